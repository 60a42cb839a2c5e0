#!/usr/bin/env bash
# Runs the Criterion unit suites (tests/unit/, against the fake runtime: no
# engine needed) under valgrind memcheck and fails unless valgrind reports
# zero errors, definite or indirect leaks included. Valgrind cannot run an
# ASan binary, so this builds its own non-sanitized tree (build-vg).
#
#   scripts/valgrind.sh [SUITE...]     default: every tests/unit/test_*.c
#   VG_BUILD_DIR   default build-vg
#   VG_ARGS        more valgrind flags
#
# Criterion runs each test in a child process: --trace-children=yes follows
# them, and each process's "ERROR SUMMARY" is read from the per-process log
# files (build-vg/valgrind/<suite>.<pid>.log). Exit status: 0 only when every
# suite passed and every process had 0 errors.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${VG_BUILD_DIR:-$root/build-vg}

suites=("$@")
if [ ${#suites[@]} -eq 0 ]; then
	for f in tests/unit/test_*.c; do suites+=("$(basename "$f" .c)"); done
fi

command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed" >&2; exit 2; }
cmake -S . -B "$build" -DDMS_SANITIZE=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j2 --target "${suites[@]/#/unit_}"

logs=$build/valgrind
rm -rf "$logs"
mkdir -p "$logs"
status=0
summary=()
for s in "${suites[@]}"; do
	bin=$build/tests/unit_$s
	echo "== $s"
	rc=0
	# Valgrind is ~20-50x slower: a generous default per-test timeout.
	# shellcheck disable=SC2086
	valgrind --tool=memcheck --trace-children=yes --track-fds=no \
		--leak-check=full --show-leak-kinds=definite,indirect \
		--errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
		--num-callers=30 --log-file="$logs/$s.%p.log" ${VG_ARGS:-} \
		"$bin" --jobs 1 --timeout 600 >"$logs/$s.out" 2>&1 || rc=$?
	errors=0
	for l in "$logs/$s".*.log; do
		n=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$l" | tail -1)
		errors=$((errors + ${n:-0}))
	done
	tested=$(sed -n 's/.*Tested: \([0-9]*\).*/\1/p' "$logs/$s.out" | tail -1)
	passing=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' "$logs/$s.out" | tail -1)
	if [ "$rc" -ne 0 ] || [ "$errors" -ne 0 ]; then
		status=1
		summary+=("$s: FAILED (exit $rc, $errors valgrind errors, ${passing:-?}/${tested:-?} tests passed) — $logs/$s.*")
		grep -l 'ERROR SUMMARY: [1-9]' "$logs/$s".*.log | head -3 | while read -r l; do
			grep -A25 -m1 -E 'Invalid|uninitialised|definitely lost|indirectly lost|Mismatched|overlap' "$l" | head -30
		done
	else
		summary+=("$s: ok, ${tested:-?} tests, 0 valgrind errors")
	fi
done
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $status
