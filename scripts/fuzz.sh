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
#   FUZZ_MAX_LEN=N    longest input (default: 8192; 4096 for log streams)
#   FUZZ_TIMEOUT=S    a single input slower than this is a failure (default 60)
#   FUZZ_BUILD_DIR    default build-fuzz
#   FUZZ_ARGS         more libFuzzer flags
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
all=(fuzz_request fuzz_config fuzz_demux fuzz_spool fuzz_host_json fuzz_events fuzz_engine_json)
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=("${all[@]}")

# (-U: a build dir from before tests/fuzz was in the root CMakeLists.txt
# may still name tests/fuzz/attach.cmake, which is gone.)
CC=clang cmake -S . -B "$build" -UCMAKE_PROJECT_INCLUDE -DDMS_FUZZ=ON -DDMS_SANITIZE=ON -DDMS_BUILD_TESTS=OFF \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
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
	case $h in fuzz_demux | fuzz_spool) maxlen=${FUZZ_MAX_LEN:-4096} ;; *) maxlen=${FUZZ_MAX_LEN:-8192} ;; esac
	# -timeout: generous, as a unit can stall for seconds on a loaded
	# machine under nice (seen: 13 s); a real hang still shows.
	args=(-max_len="$maxlen" -print_final_stats=1 -timeout="${FUZZ_TIMEOUT:-60}" -rss_limit_mb=2048
	      -artifact_prefix="$build/crashes/$h-")
	dict=$root/tests/fuzz/${h#fuzz_}.dict
	[ $h = fuzz_host_json ] && dict=$root/tests/fuzz/request.dict
	[ $h = fuzz_events ] || [ $h = fuzz_engine_json ] && dict=$root/tests/fuzz/engine.dict
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
	t0=$(date +%s)
	"$bin" "${args[@]}" "$work" "$seeds" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	peak=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
	# "#N DONE cov: C ft: F corp: ..." — edges and features reached.
	cov=$(grep -Eo '(DONE|pulse|NEW|REDUCE|INITED) +cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 | sed 's/.*cov: /cov /;s/ ft: / ft /')
	if [ $rc -ne 0 ]; then
		status=1
		grep -E 'ERROR|contract broken|SUMMARY|Test unit written|runtime error' "$log" | head -20 || true
		summary+=("$h: FAILED (rc $rc) after ${execs:-?} executions — see $log")
	else
		summary+=("$h: ok, ${execs:-?} executions, ${speed:-?} exec/s, ${cov:-cov ?}, peak RSS ${peak:-?} MB, $(($(date +%s) - t0)) s")
	fi
done
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $status
