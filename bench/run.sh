#!/usr/bin/env bash
# bench/run.sh — the benchmark of issue 8 in one command: the executor against
# the raw Engine API and the tools people use instead (docker/podman CLI,
# docker-py), side by side on the same engine and image, in one run. Prints
# the results table, writes bench/results/latest.json (+ latest.txt) and, after
# a full run, docs/performance.md. See bench/README.md for what each section
# measures and for the BENCH_* knobs.
#
# It uses an existing build (BENCH_BUILD_DIR, default build/; configured and
# built as RelWithDebInfo if missing), starts the private engines with
# scripts/engines.sh, a private dbus-daemon and dms-host, runs the sections and
# tears down, by pid, everything it started. It synchronises only by polling
# with deadlines; a column that fails is reported "n/a", never aborts the run.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

RUNS=${BENCH_RUNS:-20}

ENGINES=${BENCH_ENGINES:-docker podman}
SECTIONS=${BENCH_SECTIONS:-latency tput logs scale exit}
TPUT_CONC=${BENCH_TPUT_CONC:-1 4 16}
TPUT_JOBS=${BENCH_TPUT_JOBS:-32}
TPUT_ROUNDS=${BENCH_TPUT_ROUNDS:-3}
LOG_BYTES=${BENCH_LOG_BYTES:-200000000}
LOG_RUNS=${BENCH_LOG_RUNS:-3}
SCALE_N=${BENCH_SCALE_N:-200}
SCALE_SLEEP=${BENCH_SCALE_SLEEP:-30}
SCALE_START_CONC=${BENCH_SCALE_START_CONC:-1}
SCALE_SETTLE=${BENCH_SCALE_SETTLE:-35}
EXIT_RUNS=${BENCH_EXIT_RUNS:-$RUNS}
EXIT_SLEEP=${BENCH_EXIT_SLEEP:-1}
BUILD=${BENCH_BUILD_DIR:-build}
RESULTS=${BENCH_RESULTS_DIR:-$here/results}
case "$BUILD" in /*) ;; *) BUILD=$root/$BUILD ;; esac

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# wait_for DESCRIPTION SECONDS CMD... — polls CMD until it succeeds or the deadline passes.
wait_for() {
  local what=$1 secs=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $end ]; then log "timed out after ${secs}s waiting for $what"; return 1; fi
    sleep 0.1
  done
}

# stop_pid NAME PID — SIGTERM, poll for the exit, SIGKILL after 30 s.
stop_pid() {
  local name=$1 pid=$2
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  wait_for "$name ($pid) to exit" 30 bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null || true
}

# --- the build ---------------------------------------------------------------
if [ ! -x "$BUILD/bin/dms-host" ] || [ ! -x "$BUILD/bin/dmsctl" ] || [ ! -f "$BUILD/lib/dms-executor.so" ]; then
  log "building $BUILD (RelWithDebInfo)"
  cmake -S "$root" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDMS_BUILD_TESTS=OFF >&2
  cmake --build "$BUILD" -j"$(nproc)" >&2
fi
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
[ -n "$build_type" ] || build_type="RelWithDebInfo (the CMakeLists default)"
if grep -q '^DMS_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  [ "${BENCH_ALLOW_SANITIZE:-0}" = 1 ] ||
    die "$BUILD is a sanitizer build (DMS_SANITIZE=ON): its numbers mean nothing. Use an optimised build (BENCH_BUILD_DIR) or BENCH_ALLOW_SANITIZE=1."
  build_type="$build_type+sanitize"
fi
PLUGIN=$BUILD/lib/dms-executor.so
DMSCTL=$BUILD/bin/dmsctl

# The benchmark's own C programs: through CMake when the root CMakeLists has
# bench/ (target dms-bench-tools), else compiled here like the project (C11,
# warnings as errors) against the installed libraries and the plugin header.
TOOLS=""
if grep -qs 'add_subdirectory(bench' "$root/CMakeLists.txt" &&
    cmake --build "$BUILD" --target dms-bench-tools -j"$(nproc)" >&2; then
  for d in "$BUILD/bin" "$BUILD/bench"; do [ -x "$d/dms-bench-raw" ] && TOOLS=$d && break; done
fi
if [ -z "$TOOLS" ]; then
  TOOLS=$BUILD/bench-tools
  mkdir -p "$TOOLS"
  CC=${CC:-cc}
  CFLAGS_BENCH="-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral -I$root/plugin-api/include"
  build_tool() { # NAME PKGS SOURCES...
    local name=$1 pkgs=$2; shift 2
    local out=$TOOLS/$name src newer=0
    for src in "$@" "$here/bench.h" "$here/procstat.h"; do [ "$src" -nt "$out" ] && newer=1; done
    [ $newer = 1 ] || return 0
    # shellcheck disable=SC2046,SC2086
    $CC $CFLAGS_BENCH -o "$out" "$@" $(pkg-config --cflags --libs $pkgs) -lpthread -ldl
  }
  build_tool dms-bench-raw "libcurl yajl" "$here/raw.c" "$here/bench.c"
  build_tool dms-bench-inproc "libcurl yajl" "$here/inproc.c" "$here/bench.c"
  build_tool dms-bench-bus "libcurl yajl dbus-1" "$here/busclient.c" "$here/procstat.c" "$here/bench.c"
  build_tool dms-bench-timecmd "libcurl yajl" "$here/timecmd.c" "$here/bench.c"
fi

# docker-py: Debian's python3-docker, for the system python.
PY=/usr/bin/python3
if ! "$PY" -c 'import docker' 2>/dev/null; then
  log "installing python3-docker"
  DEBIAN_FRONTEND=noninteractive apt-get install -y python3-docker >&2 ||
    { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-docker >&2; } ||
    log "python3-docker could not be installed: the docker-py column will be n/a"
fi

# --- engines, bus, host ------------------------------------------------------
WORK=$(mktemp -d /tmp/dms-bench.XXXXXX)
# Parts and logs go straight to the results, so a run cut short keeps them.
PARTS=$RESULTS/parts
LOGS=$RESULTS/logs
rm -rf "$PARTS" "$LOGS"
mkdir -p "$PARTS" "$LOGS"
DBUS_PID=""
HOST_PID=""
TOOL_PID="" # the process group of the tool running now
TOOL_PIDS="" # those of the tools running side by side (interleave)
STARTED_ENGINES=""

ping_engine() { [ "$(curl -fsS --max-time 2 --unix-socket "$1" http://d/_ping 2>/dev/null)" = OK ]; }

cleanup() {
  local rc=$?
  set +e
  [ -n "$TOOL_PID" ] && kill -TERM -- "-$TOOL_PID" 2>/dev/null
  for p in $TOOL_PIDS; do kill -TERM -- "-$p" 2>/dev/null; done
  stop_host
  stop_pid dbus-daemon "$DBUS_PID"
  for e in $STARTED_ENGINES; do bash "$root/scripts/engines.sh" stop "$e" >&2; done
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

RUN_DIR=${DMS_RUN:-/tmp/dms-run}
declare -A was_up
for e in $ENGINES; do
  if ping_engine "$RUN_DIR/$e.sock"; then was_up[$e]=1; else was_up[$e]=0; fi
done
if [ "$ENGINES" = "docker podman" ] && env_text=$(bash scripts/engines.sh start all); then
  eval "$env_text"
else # one engine asked for, or one failed to start: each on its own
  for e in $ENGINES; do
    if env_text=$(bash scripts/engines.sh start "$e"); then eval "$env_text"; else log "$e did not start: its columns will be n/a"; fi
  done
fi
IMAGE=${BENCH_IMAGE:-${DMS_TEST_IMAGE:-dms-test/busybox:latest}}
UP_ENGINES=""
for e in $ENGINES; do
  [ "${was_up[$e]}" = 0 ] && ping_engine "$RUN_DIR/$e.sock" && STARTED_ENGINES="$STARTED_ENGINES $e"
  ping_engine "$RUN_DIR/$e.sock" && UP_ENGINES="$UP_ENGINES $e"
done

bus_env=$(dbus-daemon --session --fork --print-address=1 --print-pid=1)
DBUS_SESSION_BUS_ADDRESS=$(sed -n 1p <<<"$bus_env")
DBUS_PID=$(sed -n 2p <<<"$bus_env")
export DBUS_SESSION_BUS_ADDRESS
unset DMS_EXECUTOR_CONFIG

start_host() {
  setsid "$BUILD/bin/dms-host" --session >>"$LOGS/dms-host.log" 2>&1 </dev/null &
  HOST_PID=$!
  "$TOOLS/dms-bench-bus" wait-name 30 || die "dms-host did not take the bus name (see $LOGS/dms-host.log)"
}
stop_host() {
  [ -n "$HOST_PID" ] || return 0
  stop_pid dms-host "$HOST_PID"
  HOST_PID=""
}

engine_host() { echo "unix://$RUN_DIR/$1.sock"; }
config_file() { # ENGINE — the executor config shared by dms-host, dmsctl and in-process
  local f=$WORK/executor-$1.yaml
  # The scale jobs bind $WORK/gate-ENGINE: allowed by this config's policy.
  [ -f "$f" ] || printf 'runtime: %s\nhost: %s\nstate_dir: %s\npolicy:\n  bind_roots: ["%s"]\n' "$1" "$(engine_host "$1")" "$WORK/state-$1" "$WORK" >"$f"
  echo "$f"
}

# measure SECTION ENGINE VARIANT PARAM ROUND TIMEOUT_S CMD... — runs one tool,
# its JSON to the parts, its stderr to the logs; a failure becomes {"error"}.
# A tool still running at its deadline is a hang worth a look: the stacks of
# it and of dms-host go to the log (gdb, when installed) before it is killed.
measure() {
  local key="$1__$2__$3__$4__$5" secs=$6; shift 6
  local out=$PARTS/$key.json err=$LOGS/$key.log rc=0 why pid end
  log "$key"
  setsid "$@" >"$out" 2>"$err" </dev/null & # its own process group: $pid
  pid=$!
  TOOL_PID=$pid
  end=$((SECONDS + secs))
  while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    if command -v gdb >/dev/null; then
      { echo "=== stacks of the tool ($pid) at its ${secs}s deadline"
        gdb -p "$pid" -batch -ex 'thread apply all bt' 2>&1 | grep -E '^(Thread|#)'
        if [ -n "$HOST_PID" ]; then
          echo "=== stacks of dms-host ($HOST_PID)"
          gdb -p "$HOST_PID" -batch -ex 'thread apply all bt' 2>&1 | grep -E '^(Thread|#)'
        fi; } >"$LOGS/$key.stacks" 2>&1
    fi
    kill -TERM -- "-$pid" 2>/dev/null || true # the tool and what it spawned
    wait_for "$key to exit" 30 bash -c "! kill -0 $pid" || kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    TOOL_PID=""
    why="timed out after ${secs}s (stacks: logs/$key.stacks). $( (grep -v '^\s*$' "$err" || true) | tail -2 | tr '\n' ' ' | cut -c1-300)"
  else
    wait "$pid" || rc=$?
    TOOL_PID=""
    [ $rc = 0 ] && [ -s "$out" ] && return 0
    why=$( (grep -v '^\s*$' "$err" || true) | tail -3 | tr '\n' ' ' | cut -c1-400)
    [ -n "$why" ] || why="exit status $rc"
  fi
  "$PY" -c 'import json,sys; print(json.dumps({"error": sys.argv[1]}))' "$why" >"$out"
  log "  failed: $why"
  return 0
}

# The clients of each variant, as commands.
raw_cmd() { echo "$TOOLS/dms-bench-raw $(engine_host "$1") $IMAGE"; }
inproc_cmd() { echo "$TOOLS/dms-bench-inproc $PLUGIN $(config_file "$1") $IMAGE $1 $(engine_host "$1")"; }
# ENGINE [EXECUTOR_ID]
bus_cmd() { echo "$TOOLS/dms-bench-bus ${2:-bench-$1} $(config_file "$1") $IMAGE $1 $(engine_host "$1")"; }
cli_cmd() {
  case "$1" in
    docker) local d; d=$(command -v docker || echo /usr/bin/docker); echo "$d -H $(engine_host docker) run --rm $IMAGE true" ;;
    podman) echo "podman --remote --url $(engine_host podman) run --rm $IMAGE true" ;;
  esac
}

# fail_part KEY WHY — the part of a tool that failed: {"error": WHY}.
fail_part() {
  "$PY" -c 'import json,sys; print(json.dumps({"error": sys.argv[1]}))' "$2" >"$PARTS/$1.json"
  log "  $1 failed: $2"
}

# variant_cmd SECTION ENGINE VARIANT — sets CMD to the tool of that variant.
variant_cmd() {
  local sec=$1 e=$2 v=$3 n
  case "$sec" in latency) n=$RUNS ;; exit) n=$EXIT_RUNS ;; esac
  case "$sec/$v" in
    latency/raw) read -ra CMD <<<"$(raw_cmd "$e") latency $n" ;;
    latency/bus_run) read -ra CMD <<<"$(bus_cmd "$e") latency $n" ;;
    latency/dmsctl) CMD=("$TOOLS/dms-bench-timecmd" "$n" -- "$DMSCTL" --executor "bench-$e"
                         --config "$(config_file "$e")" run --rm "$IMAGE" -- true) ;;
    latency/inproc) read -ra CMD <<<"$(inproc_cmd "$e") latency $n" ;;
    latency/cli) read -ra CMD <<<"$TOOLS/dms-bench-timecmd $n -- $(cli_cmd "$e")" ;;
    latency/dockerpy) CMD=("$PY" "$here/dockerpy_latency.py" "$(engine_host "$e")" "$IMAGE" "$n") ;;
    exit/raw) read -ra CMD <<<"$(raw_cmd "$e") exit $n $EXIT_SLEEP" ;;
    exit/bus) read -ra CMD <<<"$(bus_cmd "$e") exit $n $EXIT_SLEEP" ;;
    exit/inproc) read -ra CMD <<<"$(inproc_cmd "$e") exit $n $EXIT_SLEEP" ;;
    *) die "no variant $sec/$v" ;;
  esac
}

# running PID — the process runs (a zombie that bash has not reaped yet does not).
running() {
  local st
  st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) && [ -n "$st" ] && [ "$st" != Z ]
}

# stacks KEY PID — the threads' stacks of a tool that holds a turn too long,
# and dms-host's, to the logs (gdb, when installed).
stacks() {
  command -v gdb >/dev/null || return 0
  { echo "=== stacks of the tool ($2)"
    gdb -p "$2" -batch -ex 'thread apply all bt' 2>&1 | grep -E '^(Thread|#)'
    if [ -n "$HOST_PID" ]; then
      echo "=== stacks of dms-host ($HOST_PID)"
      gdb -p "$HOST_PID" -batch -ex 'thread apply all bt' 2>&1 | grep -E '^(Thread|#)'
    fi; } >"$LOGS/$1.stacks" 2>&1
}

# Waits (up to 10 s) until engine $1 holds no container: the previous turn's
# job is removed. The executor answers before its container is removed, and
# a removal still under way (Podman's: its cleanup process, 150-250 ms)
# would slow whichever variant's job came next; raw's /wait and the CLIs'
# --rm include it. So each interleaved sample measures one job on an idle
# engine. Polls: the engine offers no event for "all gone".
settle() {
  local sock=$RUN_DIR/$1.sock end=$((SECONDS + 10)) k busy
  while [ $SECONDS -lt $end ]; do
    busy=0
    # The executors' containers, and the raw client's (the CLIs and
    # docker-py remove theirs before they return).
    for k in org.dms.executor dms.bench; do
      [ "$(curl -s --max-time 5 --unix-socket "$sock" -G --data-urlencode "filters={\"label\":[\"$k\"]}" \
        'http://d/containers/json?all=1')" = "[]" ] || busy=1
    done
    [ $busy = 0 ] && return 0
    sleep 0.02
  done
  log "settle: containers still on $1 after 10 s"
}

# interleave SECTION ENGINE TURNS TURN_SECS VARIANT... — runs the variants
# side by side, one job at a time: every tool starts at once (its setup
# overlaps the others'), then run.sh hands out turns round-robin over FIFOs
# (bench_turn_begin/end in bench.c): A, B, C, A, B, C... So load from
# elsewhere on the machine, which drifts over minutes, lands on every
# variant alike, and no two jobs ever overlap. A tool that dies or holds a
# turn past TURN_SECS drops out (its column n/a); the others go on.
interleave() {
  local sec=$1 e=$2 turns=$3 tsecs=$4; shift 4
  local v t fd key end got rc ch
  local -A pid gofd donefd alive why
  mkdir -p "$WORK/turns"
  for v in "$@"; do
    key="${sec}__${e}__${v}__-__0"
    rm -f "$WORK/turns/$key".{go,done}
    mkfifo "$WORK/turns/$key.go" "$WORK/turns/$key.done"
    exec {fd}<>"$WORK/turns/$key.go"; gofd[$v]=$fd
    exec {fd}<>"$WORK/turns/$key.done"; donefd[$v]=$fd
    variant_cmd "$sec" "$e" "$v"
    log "$key (interleaved, $turns turns)"
    BENCH_TURN_GO=$WORK/turns/$key.go BENCH_TURN_DONE=$WORK/turns/$key.done \
      setsid "${CMD[@]}" >"$PARTS/$key.json" 2>"$LOGS/$key.log" </dev/null &
    pid[$v]=$!
    TOOL_PIDS="$TOOL_PIDS $!"
    alive[$v]=1
    why[$v]=""
  done
  for ((t = 0; t < turns; t++)); do
    for v in "$@"; do
      [ "${alive[$v]}" = 1 ] || continue
      settle "$e"
      printf x >&"${gofd[$v]}"
      end=$((SECONDS + tsecs))
      got=0
      while :; do
        # A byte that arrives as the 1 s timeout fires is kept in ch with a
        # timeout status (bash saves partial input): it counts. Missing it
        # left the tool waiting for a turn run.sh thought it still held.
        ch=""
        if IFS= read -r -t 1 -N 1 ch <&"${donefd[$v]}" || [ -n "$ch" ]; then got=1; break; fi
        running "${pid[$v]}" || break
        [ $SECONDS -lt $end ] || break
      done
      if [ $got = 0 ]; then
        alive[$v]=0
        if running "${pid[$v]}"; then
          # For the tool itself: its main thread, the one taking turns, is
          # the process group leader setsid made.
          stacks "${sec}__${e}__${v}__-__0" "$(pgrep -g "${pid[$v]}" -o)"
          why[$v]="turn $t took more than ${tsecs}s (stacks in logs/)."
          kill -TERM -- "-${pid[$v]}" 2>/dev/null || true
        fi
      fi
    done
  done
  for v in "$@"; do
    key="${sec}__${e}__${v}__-__0"
    # Every turn taken: the tool only prints its samples now.
    wait_for "$key to exit" 60 bash -c "! kill -0 ${pid[$v]}" ||
      { why[$v]="${why[$v]} did not exit after its last turn."; kill -KILL -- "-${pid[$v]}" 2>/dev/null || true; }
    rc=0
    wait "${pid[$v]}" || rc=$?
    exec {gofd[$v]}>&- {donefd[$v]}>&-
    if [ $rc != 0 ] || [ ! -s "$PARTS/$key.json" ] || [ -n "${why[$v]}" ]; then
      fail_part "$key" "${why[$v]} $( (grep -v '^\s*$' "$LOGS/$key.log" || true) | tail -3 | tr '\n' ' ' | cut -c1-400) (exit status $rc)"
    fi
  done
  TOOL_PIDS=""
}

section_latency() {
  local e=$1
  if ! "$DMSCTL" -v --executor "bench-$e" --config "$(config_file "$e")" info 2>&1 >/dev/null |
      grep -q 'dms-host on the bus'; then
    log "dmsctl does not reach dms-host for $e: the dmsctl column will be n/a"
  fi
  # RUNS measured jobs per variant plus each one's warm-up.
  interleave latency "$e" $((RUNS + 1)) 120 raw bus_run dmsctl inproc cli dockerpy
}

# TPUT_ROUNDS rounds that alternate the variants, each starting on an idle
# engine (settle: the executor's removals of the round before would slow
# whichever variant came next); jobs/s = all jobs / all their seconds.
section_tput() {
  local e=$1 c t r
  for c in $TPUT_CONC; do
    local jobs=$(( TPUT_JOBS > 2 * c ? TPUT_JOBS : 2 * c ))
    t=$(( 120 + jobs * 30 ))
    for ((r = 0; r < TPUT_ROUNDS; r++)); do
      settle "$e"
      # shellcheck disable=SC2046
      measure tput "$e" raw "$c" $r $t $(raw_cmd "$e") tput "$c" "$jobs"
      settle "$e"
      # shellcheck disable=SC2046
      measure tput "$e" inproc "$c" $r $t $(inproc_cmd "$e") tput "$c" "$jobs"
      settle "$e"
      # shellcheck disable=SC2046
      measure tput "$e" bus "$c" $r $t $(bus_cmd "$e") tput "$c" "$jobs"
    done
  done
}

section_logs() {
  local e=$1 r t=$(( 300 + LOG_BYTES / 1000000 ))
  for ((r = 0; r < LOG_RUNS; r++)); do
    settle "$e"
    # shellcheck disable=SC2046
    measure logs "$e" raw - $r $t $(raw_cmd "$e") logs "$LOG_BYTES"
    settle "$e"
    # shellcheck disable=SC2046
    measure logs "$e" bus - $r $t $(bus_cmd "$e") logs "$LOG_BYTES"
    settle "$e"
    # shellcheck disable=SC2046
    measure logs "$e" inproc - $r $t $(inproc_cmd "$e") logs "$LOG_BYTES"
  done
}

section_scale() {
  local e=$1 n gate=$WORK/gate-$1
  mkdir -p "$gate"
  # A fresh dms-host and an executor of its own: its numbers are those of
  # this workload only. (The other sections' executor would restore the
  # results it keeps for an hour from its state files: the log section's
  # three 1 MiB outputs alone were 6 MB of dms-host's memory.)
  stop_host
  start_host
  for n in 1 "$SCALE_N"; do
    local t=$(( 600 + n * 30 + SCALE_SLEEP + SCALE_SETTLE ))
    # shellcheck disable=SC2046
    measure scale "$e" bus "$n" 0 $t $(bus_cmd "$e" "bench-scale-$e") scale "$n" "$SCALE_SLEEP" \
      "$SCALE_START_CONC" "$SCALE_SETTLE" "$gate" "$HOST_PID"
  done
  stop_host
  start_host
}

section_exit() {
  interleave exit "$1" "$EXIT_RUNS" $((EXIT_SLEEP + 120)) raw bus inproc
}

# Leaves nothing behind: the executors' labelled containers (Cleanup), and any
# container a killed tool left: the raw client's (label dms.bench) and those of
# any bench executor (org.dms.executor=bench-*).
tidy_engine() {
  local e=$1 sock=$RUN_DIR/$1.sock ids id x
  for x in "bench-$e" "bench-scale-$e"; do
    "$DMSCTL" --executor "$x" --config "$(config_file "$e")" cleanup >/dev/null 2>&1 || true
  done
  ids=$(curl -fsS --unix-socket "$sock" -G http://d/containers/json --data-urlencode all=1 2>/dev/null |
        "$PY" -c 'import json,sys
for c in json.load(sys.stdin):
    l = c.get("Labels") or {}
    if "dms.bench" in l or l.get("org.dms.executor", "").startswith("bench-"):
        print(c["Id"])' 2>/dev/null || true)
  for id in $ids; do curl -fsS --unix-socket "$sock" -X DELETE "http://d/containers/$id?force=1" >/dev/null 2>&1 || true; done
}

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
t_begin=$SECONDS
start_host
for sec in $SECTIONS; do
  for e in $ENGINES; do
    case " $UP_ENGINES " in *" $e "*) ;; *) log "$e is not up: skipping $sec"; continue ;; esac
    printf '%s/%s %s\n' "$sec" "$e" "$(cut -d' ' -f1 /proc/loadavg)" >>"$WORK/load.txt"
    "section_$sec" "$e"
  done
done
for e in $UP_ENGINES; do tidy_engine "$e"; done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

full=0
[ "$RUNS" -ge 20 ] && [ "$SECTIONS" = "latency tput logs scale exit" ] &&
  [ "$ENGINES" = "docker podman" ] && [ "$SCALE_N" -ge 200 ] && full=1
engines_desc=""
for e in $UP_ENGINES; do
  v=$(curl -fsS --unix-socket "$RUN_DIR/$e.sock" http://d/version 2>/dev/null |
      "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Version","?"), "API", d.get("ApiVersion","?"))' 2>/dev/null || echo '?')
  engines_desc="$engines_desc${engines_desc:+, }$e $v"
done
"$PY" - "$WORK/meta.json" <<EOF
import json, sys
json.dump({
  "started": "$started", "hostname": "$(hostname)", "nproc": $(nproc),
  "load_start": "$load_start", "load_end": "$load_end",
  "duration_s": $((SECONDS - t_begin)),
  "git": "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" status --porcelain 2>/dev/null | grep -q . && echo '+dirty')",
  "build_dir": "$BUILD", "build_type": "$build_type",
  "runs": $RUNS, "interleaved": "one job per variant in turn", "engines": "$ENGINES", "engines_desc": "$engines_desc",
  "image": "$IMAGE", "sections": "$SECTIONS", "tput_conc": "$TPUT_CONC", "tput_jobs": $TPUT_JOBS,
  "log_bytes": $LOG_BYTES, "log_runs": $LOG_RUNS, "scale_n": $SCALE_N,
  "scale_sleep": $SCALE_SLEEP, "scale_start_conc": $SCALE_START_CONC,
  "scale_settle": $SCALE_SETTLE, "exit_runs": $EXIT_RUNS, "exit_sleep": $EXIT_SLEEP,
  "full_run": bool($full),
  "load_by_section": dict(l.split() for l in open("$WORK/load.txt")) if __import__("os").path.exists("$WORK/load.txt") else {},
}, open(sys.argv[1], "w"), indent=1)
EOF
doc=()
if [ "${BENCH_WRITE_DOC:-$full}" = 1 ]; then doc=("$root/docs/performance.md"); fi
"$PY" "$here/report.py" "$PARTS" "$WORK/meta.json" "$RESULTS/latest.json" "$RESULTS/latest.txt" "${doc[@]}"
# The run's own copy, kept next to the others: bench/results/<timestamp>.json.
stamp=$(tr -d ':-' <<<"$started")
cp "$RESULTS/latest.json" "$RESULTS/$stamp.json"
cp "$RESULTS/latest.txt" "$RESULTS/$stamp.txt"
log "results: $RESULTS/$stamp.json (= latest.json), $RESULTS/latest.txt${doc:+, ${doc[0]}} (logs: $LOGS)"
[ $full = 1 ] || log "not a full run (BENCH_RUNS < 20, or a subset of sections/engines): docs/performance.md left as it is"
