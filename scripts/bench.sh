#!/usr/bin/env bash
# scripts/bench.sh — the benchmark of issue 8 in one command: builds an
# optimised tree of its own (build-bench: Release, no sanitizer, no tests,
# DMS_BUILD_BENCH=ON) and runs bench/run.sh on it, which uses the shared
# engines at /tmp/dms-run when they answer (starting them otherwise), installs
# python3-docker for the docker-py column if missing, measures the five
# sections of the issue on Docker and on Podman, prints the table and writes
# bench/results/<timestamp>.json. Not part of the tests (scripts/test.sh).
#
#   bash scripts/bench.sh                        # the full run (≈ 22 min, 2 idle cores)
#   BENCH_SECTIONS=latency BENCH_ENGINES=docker bash scripts/bench.sh
#
# Every BENCH_* knob of bench/README.md passes through; BENCH_BUILD_DIR picks
# another tree (it must not be a sanitizer build).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench}

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DDMS_SANITIZE=OFF \
  -DDMS_BUILD_TESTS=OFF -DDMS_BUILD_BENCH=ON >&2
cmake --build "$build" -j"$(nproc)" >&2

BENCH_BUILD_DIR=$build exec bash "$root/bench/run.sh" "$@"
