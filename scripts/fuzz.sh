#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz/ with clang + ASan + UBSan in
# a build dir of their own (build-fuzz) and runs them, one at a time, from
# the committed seed corpus (tests/fuzz/corpus/<harness>/). New inputs go to
# build-fuzz/corpus/<harness>/ (the committed corpus is never written);
# crashes, leaks and timeouts to build-fuzz/crashes/<harness>-*. Prints
# libFuzzer's final stats (executions, exec/s) per harness.
#
#   scripts/fuzz.sh [HARNESS...]        default: every harness
#   FUZZ_SECONDS=30   how long each harness runs (default 30)
#   FUZZ_RUNS=N       run N inputs instead of a time budget; 0 replays
#                     the corpus once (a CI smoke run)
#   FUZZ_MAX_LEN=N    longest input (default: 8192 for text, 4096 for streams)
#   FUZZ_BUILD_DIR    default build-fuzz
#   FUZZ_ARGS         more libFuzzer flags
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
all=(fuzz_request fuzz_config fuzz_demux fuzz_spool fuzz_host_json)
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=("${all[@]}")

# Until the root CMakeLists.txt has `add_subdirectory(tests/fuzz)`, attach
# it from outside (tests/fuzz/attach.cmake) so this script works either way.
attach=()
grep -q 'tests/fuzz' CMakeLists.txt || attach=(-DCMAKE_PROJECT_INCLUDE="$root/tests/fuzz/attach.cmake")

CC=clang cmake -S . -B "$build" -DDMS_FUZZ=ON -DDMS_SANITIZE=ON -DDMS_BUILD_TESTS=OFF \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo "${attach[@]}" >/dev/null
cmake --build "$build" --target "${harnesses[@]}" -j2

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
summary=()
for h in "${harnesses[@]}"; do
	bin=$build/fuzz/$h
	seeds=$root/tests/fuzz/corpus/$h
	work=$build/corpus/$h
	mkdir -p "$work" "$build/crashes"
	case $h in fuzz_request | fuzz_config | fuzz_host_json) maxlen=${FUZZ_MAX_LEN:-8192} ;; *) maxlen=${FUZZ_MAX_LEN:-4096} ;; esac
	args=(-max_len="$maxlen" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
	      -artifact_prefix="$build/crashes/$h-")
	dict=$root/tests/fuzz/${h#fuzz_}.dict
	[ $h = fuzz_host_json ] && dict=$root/tests/fuzz/request.dict
	[ -f "$dict" ] && args+=(-dict="$dict")
	if [ -n "${FUZZ_RUNS:-}" ]; then
		args+=(-runs="$FUZZ_RUNS")
	else
		args+=(-max_total_time="${FUZZ_SECONDS:-30}")
	fi
	# shellcheck disable=SC2206
	args+=(${FUZZ_ARGS:-})
	log=$build/$h.log
	echo "== $h ${args[*]}"
	rc=0
	"$bin" "${args[@]}" "$work" "$seeds" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	peak=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
	if [ $rc -ne 0 ]; then
		status=1
		grep -E 'ERROR|contract broken|SUMMARY|Test unit written|runtime error' "$log" | head -20 || true
		summary+=("$h: FAILED (rc $rc) after ${execs:-?} executions — see $log")
	else
		summary+=("$h: ok, ${execs:-?} executions, ${speed:-?} exec/s, peak RSS ${peak:-?} MB")
	fi
done
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $status
