#!/usr/bin/env bash
# test-go.sh — the Go client's tests (clients/go) against a real dms-host and
# the real engine: starts a private session bus and the build tree's dms-host
# on it, runs `go test` (offline: Debian's golang-go and golang-dbus-dev, no
# module proxy), then stops what it started. The engine comes from
# $DMS_DOCKER_HOST (scripts/engines.sh env); the build from $1 or
# $DMS_BINARY_DIR (default: build).
#
#   bash scripts/test-go.sh [BUILD_DIR] [go test flags...]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${DMS_BINARY_DIR:-$here/build}}
[ $# -gt 0 ] && shift
: "${DMS_DOCKER_HOST:?DMS_DOCKER_HOST is not set (scripts/engines.sh env)}"

log() { printf 'test-go: %s\n' "$*" >&2; }

work=$(mktemp -d /tmp/dms-go-test.XXXXXX)
bus_pid= host_pid=
cleanup() {
  local rc=$?
  if [ -n "$host_pid" ] && kill -0 "$host_pid" 2>/dev/null; then
    kill -TERM "$host_pid" 2>/dev/null || true
    wait "$host_pid" 2>/dev/null || true
  fi
  [ -n "$bus_pid" ] && kill -TERM "$bus_pid" 2>/dev/null || true
  if [ "$rc" != 0 ] && [ -s "$work/dms-host.log" ]; then
    log "dms-host log:"; cat "$work/dms-host.log" >&2
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

read -r bus_addr bus_pid < <(dbus-daemon --session --fork --print-address=1 --print-pid=1 \
  2>/dev/null | paste -sd ' ')
[ -n "$bus_addr" ] && [ -n "$bus_pid" ] || { log "dbus-daemon did not start"; exit 1; }

DBUS_SESSION_BUS_ADDRESS=$bus_addr DOCKER_HOST=$DMS_DOCKER_HOST \
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
  "$build/bin/dms-host" --session >"$work/dms-host.log" 2>&1 &
host_pid=$!
owned() {
  kill -0 "$host_pid" 2>/dev/null || { log "dms-host exited"; return 2; }
  DBUS_SESSION_BUS_ADDRESS=$bus_addr dbus-send --session --print-reply \
    --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner \
    string:org.dms.Executor 2>/dev/null | grep -q 'boolean true'
}
end=$((SECONDS + 30))
until owned; do
  [ $? = 2 ] && exit 1
  [ $SECONDS -lt $end ] || { log "dms-host did not own org.dms.Executor in 30 s"; exit 1; }
  sleep 0.1
done

cd "$here/clients/go"
export GOPROXY=off GOFLAGS=-mod=mod GOCACHE=${GOCACHE:-$work/gocache} GOPATH=${GOPATH:-$work/gopath}
export DMS_GO_TEST_BUS=$bus_addr DMS_GO_TEST_REQUIRE=1
go vet ./...
go build -o "$work/run-example" ./examples/run
go test -count=1 "$@" ./...
# The example, as a user runs it: its output and its exit code.
out=$(DBUS_SESSION_BUS_ADDRESS=$bus_addr "$work/run-example" -executor go-example \
  -config "runtime: docker
host: $DMS_DOCKER_HOST
state_dir: $work/example-state" -- sh -c 'echo hello from go; exit 5') && rc=0 || rc=$?
[ "$out" = "hello from go" ] && [ "$rc" = 5 ] ||
  { log "example printed '$out' and exited $rc (want 'hello from go', 5)"; exit 1; }
log "example: printed '$out', exited $rc"
