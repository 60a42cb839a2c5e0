#!/usr/bin/env bash
# The test command (README.md, .ci/run). On a fresh Debian machine as root:
# installs the packages, builds everything with ASan+UBSan, starts a private
# dockerd and Podman service with the test image, and runs every suite:
# Criterion unit and integration tests and the D-Bus tests (ctest), then the
# Gherkin features (behave) once per engine, then a fuzz smoke run (each
# libFuzzer harness of tests/fuzz/ for 15 s from the committed corpus,
# scripts/fuzz.sh), then the valgrind stage (scripts/valgrind.sh all: a
# non-sanitized build under memcheck, zero errors). Stops what it started.
#
#   scripts/test.sh            everything
#   scripts/test.sh -L unit    only ctest tests with that label (no engines needed
#                              for unit, but they are started anyway); no behave,
#                              no fuzzing, no valgrind
#   DMS_TEST_FUZZ=0            no fuzz smoke run
#   DMS_TEST_VALGRIND=0        no valgrind stage
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

bash scripts/install-deps.sh

build=${DMS_TEST_BUILD_DIR:-$root/build-test}
cmake -S . -B "$build" -DDMS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j"$(nproc)"

export DMS_RUN=${DMS_RUN:-/tmp/dms-run}
# (not eval "$(...)": eval of an empty string succeeds and would hide a failed start)
engine_env=$(bash scripts/engines.sh start all) || { echo "test.sh: the engines did not start" >&2; exit 1; }
eval "$engine_env"
export DMS_STATE_DIR
DMS_STATE_DIR=$(mktemp -d /tmp/dms-state.XXXXXX)
cleanup() {
	bash scripts/engines.sh stop all || true
	rm -rf "$DMS_STATE_DIR"
}
trap cleanup EXIT

# LeakSanitizer: report leaks; UBSan: fail on the first error.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
ctest --test-dir "$build" --output-on-failure -j2 "$@" || status=$?

if [ $# -eq 0 ] && [ -d features ] && ls features/*.feature >/dev/null 2>&1; then
	for engine in docker podman; do
		echo "== behave: $engine"
		DMS_BINARY_DIR=$build DMS_ENGINE=$engine \
			behave --no-capture --format progress --tags="$engine" features || status=1
	done
fi

if [ $# -eq 0 ] && [ "${DMS_TEST_FUZZ:-1}" != 0 ]; then
	echo "== fuzz smoke run: every harness for ${FUZZ_SECONDS:-15} s"
	FUZZ_SECONDS=${FUZZ_SECONDS:-15} FUZZ_BUILD_DIR=${FUZZ_BUILD_DIR:-$root/build-fuzz} \
		bash scripts/fuzz.sh || status=1
fi

if [ $# -eq 0 ] && [ "${DMS_TEST_VALGRIND:-1}" != 0 ]; then
	echo "== valgrind (memcheck): unit, integration and D-Bus suites"
	bash scripts/valgrind.sh all || status=1
fi
exit $status
