#!/usr/bin/env bash
# Runs test suites under valgrind memcheck and fails unless every suite
# passes and valgrind reports zero errors, definite or indirect leaks
# included, in every process it watched. Valgrind cannot run an ASan
# binary, so this builds its own non-sanitized tree (build-vg).
#
#   scripts/valgrind.sh [SUITE|GROUP...]      default: unit
#     GROUP  unit | integration | dbus | all (the three)
#     SUITE  test_buf                          a unit suite (tests/unit/)
#            integration/test_engine_spec      a Criterion integration suite,
#            integration/test_engine_spec@podman   on dockerd or, @podman, Podman
#            dbus/test_dbus_api                a D-Bus test module: dms-host
#                                              runs under valgrind (DMS_HOST_WRAPPER)
#   VG_BUILD_DIR     default build-vg
#   VG_JOBS          suites run at once, default 2
#   VG_TIME_SCALE    DMS_TEST_TIME_SCALE for the unit suites (tests/support/test_time.h):
#                    deadlines and Criterion timeouts stretched, default 10
#   VG_ITIME_SCALE   the same for the integration suites (engine-bound: less
#                    slowed; a hang costs scale x the suite timeout), default 3
#   VG_SUITE_TIMEOUT seconds one suite may take, default 2400
#   VG_ARGS          more valgrind flags
#
# The integration and dbus groups need the engines (scripts/engines.sh start
# all): DMS_DOCKER_HOST etc. are taken from the environment, else from
# `scripts/engines.sh env`. They leave out integration/test_hygiene (1,000
# real jobs: hours under memcheck) and the dbus modules that kill or break
# dms-host or the engine, measure time, or trace dms-host themselves (see
# docs/robustness.md, "Valgrind").
#
# Criterion runs each test in a child process: --trace-children=yes follows
# them. Each process's ERROR SUMMARY is read from its log file
# (build-vg/valgrind/<suite>.<pid>.log); a process killed before it could
# write one is counted as unsummarised, and fails the suite. Exit status: 0
# only when every suite passed and every process had 0 errors.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${VG_BUILD_DIR:-$root/build-vg}
jobs=${VG_JOBS:-2}
scale=${VG_TIME_SCALE:-10}
iscale=${VG_ITIME_SCALE:-3}
suite_timeout=${VG_SUITE_TIMEOUT:-2400}

unit_suites() { for f in tests/unit/test_*.c; do basename "$f" .c; done; }
integration_suites() {
	for f in tests/integration/test_engine_*.c; do
		printf '%s\n' "integration/$(basename "$f" .c)" "integration/$(basename "$f" .c)@podman"
	done
}
# Modules whose dms-host runs only on the shared engine and ends by SIGTERM.
# Not test_dbus_fuzz: its calls have short reply timeouts that a dms-host
# under memcheck misses (NoReply).
dbus_modules() {
	printf 'dbus/%s\n' test_dbus_api test_dmsctl test_introspection test_malformed \
		test_plugin_load test_sweep
}

suites=()
for a in "${@:-unit}"; do
	case $a in
	unit) mapfile -t -O ${#suites[@]} suites < <(unit_suites) ;;
	integration) mapfile -t -O ${#suites[@]} suites < <(integration_suites) ;;
	dbus) mapfile -t -O ${#suites[@]} suites < <(dbus_modules) ;;
	all) mapfile -t -O ${#suites[@]} suites < <(integration_suites; dbus_modules; unit_suites) ;;
	*) suites+=("$a") ;;
	esac
done

command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed" >&2; exit 2; }
targets=()
needs_engine=false
for s in "${suites[@]}"; do
	case $s in
	integration/*) targets+=("integration_${s#integration/}"); needs_engine=true ;;
	dbus/*) needs_engine=true ;;
	*) targets+=("unit_$s") ;;
	esac
done
targets=("${targets[@]%@*}")
cmake -S . -B "$build" -DDMS_SANITIZE=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
build_log=$(mktemp /tmp/dms-vg-build.XXXXXX)
if printf '%s\n' "${suites[@]}" | grep -q '^dbus/'; then
	build_targets=() # all: dms-host, dmsctl, the plugins
else
	build_targets=(--target dms-executor "${targets[@]}")
fi
cmake --build "$build" -j2 "${build_targets[@]}" >"$build_log" 2>&1 ||
	{ tail -40 "$build_log"; echo "valgrind.sh: the build failed" >&2; exit 2; }
rm -f "$build_log"
if $needs_engine && [ -z "${DMS_DOCKER_HOST:-}" ]; then
	eval "$(bash scripts/engines.sh env)"
fi
if $needs_engine && [ -z "${DMS_STATE_DIR:-}" ]; then
	DMS_STATE_DIR=$(mktemp -d /tmp/dms-state.XXXXXX)
	export DMS_STATE_DIR
	trap 'rm -rf "$DMS_STATE_DIR"' EXIT
fi
python=/usr/bin/python3 # Debian's, which has python3-dbus (as tests/CMakeLists.txt)
[ -x "$python" ] || python=python3

logs=$build/valgrind
rm -rf "$logs"
mkdir -p "$logs"
# --fair-sched=yes: valgrind runs one thread at a time; its default lock
# lets a busy thread starve the others for seconds on a loaded machine.
vg=(valgrind --tool=memcheck --fair-sched=yes --track-fds=no --leak-check=full
	--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect
	--error-exitcode=99 --num-callers=30 --suppressions=$root/scripts/valgrind.supp)
# shellcheck disable=SC2206
vg+=(${VG_ARGS:-})

# Runs one suite; writes $logs/<tag>.out (its output) and <tag>.result (one
# summary line). Never fails: the result line says how it went.
run_suite() {
	local s=$1 tag=${1//\//_} rc=0 t0 secs tested passed errors=0 procs=0 unsummarised=0 n l
	t0=$(date +%s)
	case $s in
	dbus/*)
		# dms-host under valgrind for every host the module starts
		# (tests/dbus/dmshost.py honours DMS_HOST_WRAPPER).
		(cd tests/dbus && DMS_BINARY_DIR=$build DMS_SOURCE_DIR=$root PYTHONPATH=$root/tests/dbus \
			DMS_HOST_WRAPPER="${vg[*]} --trace-children=no --log-file=$logs/$tag.%p.log" \
			timeout -k 30 "$suite_timeout" "$python" -m unittest -v "${s#dbus/}") \
			>"$logs/$tag.out" 2>&1 || rc=$?
		# "Ran 23 tests in 9.1s" then "OK (skipped=1)" or "FAILED (failures=1, errors=2)"
		tested=$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\} in.*/\1/p' "$logs/$tag.out" | tail -1)
		passed=${tested:-0}
		local kind count skipped=0
		while IFS='=' read -r kind count; do
			passed=$((passed - count))
			[ "$kind" != skipped ] || skipped=$count
		done < <(tail -1 "$logs/$tag.out" | grep -oE '(failures|errors|skipped)=[0-9]+' || true)
		[ "$skipped" -eq 0 ] || passed="$passed (+$skipped skipped)"
		[ -n "$tested" ] || passed=
		;;
	*)
		local bin env=()
		case $s in
		integration/*@podman)
			bin=$build/tests/integration_${s#integration/}
			bin=${bin%@podman}
			env=(DMS_ENGINE=podman DMS_TEST_TIME_SCALE=$iscale)
			;;
		integration/*)
			bin=$build/tests/integration_${s#integration/}
			env=(DMS_ENGINE=docker DMS_TEST_TIME_SCALE=$iscale)
			;;
		*)
			bin=$build/tests/unit_$s
			env=(DMS_TEST_TIME_SCALE=$scale)
			;;
		esac
		env "${env[@]}" timeout -k 30 "$suite_timeout" \
			"${vg[@]}" --trace-children=yes --log-file="$logs/$tag.%p.log" \
			"$bin" --jobs 1 --verbose=0 >"$logs/$tag.out" 2>&1 || rc=$?
		tested=$(sed -n 's/.*Tested: \([0-9]*\).*/\1/p' "$logs/$tag.out" | tail -1)
		passed=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' "$logs/$tag.out" | tail -1)
		;;
	esac
	secs=$(($(date +%s) - t0))
	for l in "$logs/$tag".*.log; do
		[ -e "$l" ] || continue
		procs=$((procs + 1))
		n=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$l" | tail -1)
		if [ -z "$n" ]; then
			unsummarised=$((unsummarised + 1))
		else
			errors=$((errors + n))
		fi
	done
	local what="${passed:-?}/${tested:-?} tests passed, $procs processes, $errors valgrind errors"
	[ "$unsummarised" -eq 0 ] || what+=", $unsummarised processes without a summary"
	if [ "$rc" -ne 0 ] || [ "$errors" -ne 0 ] || [ "$unsummarised" -ne 0 ] || [ "$procs" -eq 0 ]; then
		echo "FAIL $s: exit $rc, $what, ${secs}s — $logs/$tag.*" >"$logs/$tag.result"
	else
		echo "ok   $s: $what, ${secs}s" >"$logs/$tag.result"
	fi
	cat "$logs/$tag.result"
}

t_start=$(date +%s)
running=0
for s in "${suites[@]}"; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n || true
		running=$((running - 1))
	fi
	echo "== $s (started $(date -u +%T))"
	run_suite "$s" &
	running=$((running + 1))
done
wait

status=0
echo "== summary ($(($(date +%s) - t_start)) s, $jobs at a time, time scale $scale (unit), $iscale (integration))"
for s in "${suites[@]}"; do
	tag=${s//\//_}
	cat "$logs/$tag.result"
	if ! grep -q '^ok ' "$logs/$tag.result"; then
		status=1
		grep -l 'ERROR SUMMARY: [1-9]' "$logs/$tag".*.log 2>/dev/null | head -3 | while read -r l; do
			grep -A25 -m1 -E 'Invalid|uninitialised|definitely lost|indirectly lost|Mismatched|overlap' "$l" | head -30
		done
		grep -E '^\[FAIL\]|^(FAIL|ERROR):' "$logs/$tag.out" | head -10 || true
	fi
done
exit $status
