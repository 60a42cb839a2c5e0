#!/usr/bin/env bash
# run-main-job.sh — the README's "main job": on a fresh Debian machine (as
# root) installs the packages, builds, starts a private dockerd when no
# engine answers, starts a private session bus and dms-host on it, and runs
# a real job through dms-host over D-Bus with dmsctl, printing its output.
# Exits with the job's exit code. Everything it started is stopped on exit.
#
#   bash scripts/run-main-job.sh [CMD...]   (default: a hello from a container)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
BUILD=${DMS_BUILD_DIR:-$here/build}
IMAGE=${DMS_TEST_IMAGE:-dms-test/busybox:latest}
RUN=${DMS_RUN:-/tmp/dms-run}

log() { printf 'main-job: %s\n' "$*" >&2; }

bus_pid= host_pid= work=
cleanup() {
  local rc=$?
  if [ -n "$host_pid" ] && kill -0 "$host_pid" 2>/dev/null; then
    kill -TERM "$host_pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$host_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$host_pid" 2>/dev/null || true
  fi
  [ -n "$bus_pid" ] && kill -TERM "$bus_pid" 2>/dev/null || true
  [ -n "$work" ] && rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for WHAT SECONDS CMD... — polls CMD until it succeeds, or fails at the deadline.
wait_for() {
  local what=$1 secs=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $end ]; then log "timed out after ${secs}s waiting for $what"; return 1; fi
    sleep 0.1
  done
}

ping_engine() { # URL
  local sock=${1#unix://}
  [ "$(curl -fsS --max-time 2 --unix-socket "$sock" http://d/_ping 2>/dev/null)" = OK ]
}

has_image() { # URL
  curl -fsS --max-time 5 --unix-socket "${1#unix://}" "http://d/images/$IMAGE/json" >/dev/null 2>&1
}

log "installing packages"
bash scripts/install-deps.sh

log "building in $BUILD"
cmake -S . -B "$BUILD" >/dev/null
cmake --build "$BUILD" -j2 --target dms-executor dms-host dmsctl >/dev/null

engine=
for cand in "${DOCKER_HOST:-}" unix:///var/run/docker.sock; do
  case "$cand" in unix://*) ;; *) continue ;; esac
  if ping_engine "$cand" && has_image "$cand"; then engine=$cand; break; fi
done
if [ -z "$engine" ]; then
  log "no engine with $IMAGE answers; starting the private dockerd"
  eval "$(DMS_RUN=$RUN bash scripts/engines.sh start docker)"
  engine=$DMS_DOCKER_HOST
fi
log "engine: $engine"

work=$(mktemp -d /tmp/dms-main-job.XXXXXX)
read -r bus_addr bus_pid < <(dbus-daemon --session --fork --print-address=1 --print-pid=1 \
  2>/dev/null | paste -sd ' ')
[ -n "$bus_addr" ] && [ -n "$bus_pid" ] || { log "dbus-daemon did not start"; exit 1; }
export DBUS_SESSION_BUS_ADDRESS=$bus_addr
log "private session bus: $bus_addr (pid $bus_pid)"

DOCKER_HOST=$engine "$BUILD/bin/dms-host" --session >"$work/dms-host.log" 2>&1 &
host_pid=$!
name_owned() {
  kill -0 "$host_pid" 2>/dev/null || return 2
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.dms.Executor | grep -q 'boolean true'
}
if ! wait_for "dms-host to own org.dms.Executor" 30 name_owned; then
  cat "$work/dms-host.log" >&2
  exit 1
fi
log "dms-host (pid $host_pid) serves org.dms.Executor"

printf 'runtime: docker\nhost: %s\nstate_dir: %s/state\n' "$engine" "$work" >"$work/executor.yaml"
if [ $# -eq 0 ]; then
  set -- sh -c 'echo "hello from a container on $(hostname)"; uname -a'
fi
log "dmsctl run $IMAGE -- $*"
status=0
DMS_EXECUTOR_CONFIG=$work/executor.yaml "$BUILD/bin/dmsctl" --executor main-job -v \
  run "$IMAGE" -- "$@" || status=$?
log "job exit code: $status"
DMS_EXECUTOR_CONFIG=$work/executor.yaml "$BUILD/bin/dmsctl" --executor main-job cleanup || true
exit "$status"
