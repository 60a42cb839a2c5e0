#!/usr/bin/env bash
# Starts and stops the private engines the tests use: a dockerd and a Podman
# API service on private sockets with private state under $DMS_RUN, plus the
# busybox-static test image imported into each (no registry is reachable).
#
#   scripts/engines.sh start [docker|podman|all]   # prints the env to export
#   scripts/engines.sh stop  [docker|podman|all]
#   scripts/engines.sh env                          # prints the env only
set -euo pipefail

RUN=${DMS_RUN:-/tmp/dms-run}
IMAGE=${DMS_TEST_IMAGE:-dms-test/busybox:latest}
here=$(cd "$(dirname "$0")" && pwd)

log() { printf 'engines: %s\n' "$*" >&2; }

# wait_for DESCRIPTION SECONDS CMD... — polls CMD until it succeeds or the deadline passes.
wait_for() {
  local what=$1 secs=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $end ]; then log "timed out after ${secs}s waiting for $what"; return 1; fi
    sleep 0.1
  done
}

ping_sock() { [ "$(curl -fsS --max-time 2 --unix-socket "$1" http://d/_ping 2>/dev/null)" = OK ]; }

build_rootfs_tar() {
  local out=$RUN/busybox-rootfs.tar
  [ -s "$out" ] && { echo "$out"; return; }
  local root; root=$(mktemp -d "$RUN/rootfs.XXXXXX")
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/proc" "$root/sys" "$root/dev" "$root/out"
  cp /bin/busybox "$root/bin/busybox"
  for a in sh ash echo sleep cat head tail yes dd kill env true false printf ls \
           mkdir rm cp mv wc seq tr trap id whoami pwd date grep sed awk nproc \
           test '[' stat touch chmod tee sync hostname ps usleep timeout uname; do
    ln -sf busybox "$root/bin/$a"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >>"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  tar -C "$root" -cf "$out" .
  rm -rf "$root"
  echo "$out"
}

import_image() { # SOCKET
  local sock=$1 tar repo tag
  repo=${IMAGE%:*}; tag=${IMAGE##*:}
  if curl -fsS --unix-socket "$sock" "http://d/images/$IMAGE/json" >/dev/null 2>&1; then return; fi
  tar=$(build_rootfs_tar)
  curl -fsS --unix-socket "$sock" -X POST -H 'Content-Type: application/x-tar' \
    --data-binary "@$tar" "http://d/images/create?fromSrc=-&repo=$repo&tag=$tag" >/dev/null
  curl -fsS --unix-socket "$sock" "http://d/images/$IMAGE/json" >/dev/null
  log "imported $IMAGE into $sock"
}

# reset_state DIR... — a daemon killed with its containers (a session's end, a
# crash) leaves sandboxes, netns and overlay mounts and shim processes behind;
# dockerd then removes the stale sandboxes one by one at start (~0.25 s each,
# 14 minutes seen). These engines are private to the tests, so an engine that
# is not running starts from empty state: its leftover processes are killed,
# mounts under DIR are detached deepest first, and DIR is removed.
reset_state() {
  local d m
  for d in "$@"; do
    pkill -9 -f -- "$d" 2>/dev/null || true
    [ -e "$d" ] || continue
    awk -v p="$d" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r |
      while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$d"
  done
}

start_docker() {
  local sock=$RUN/docker.sock
  if ping_sock "$sock"; then log "dockerd already up on $sock"; else
    stop_pidfile dockerd "$RUN/docker.pid"
    reset_state "$RUN/docker-exec" "$RUN/docker-data"
    mkdir -p "$RUN/docker-data" "$RUN/docker-exec"
    # Engines start in $RUN: conmon writes files such as "oom" into the
    # working directory it inherits, which would otherwise be the checkout.
    (cd "$RUN" && exec setsid dockerd --host "unix://$sock" --data-root "$RUN/docker-data" \
      --exec-root "$RUN/docker-exec" --pidfile "$RUN/docker.pid" \
      --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs) \
      >"$RUN/dockerd.log" 2>&1 </dev/null &
    wait_for dockerd 60 ping_sock "$sock" || { tail -20 "$RUN/dockerd.log" >&2; return 1; }
    log "dockerd up on $sock"
  fi
  import_image "$sock"
}

start_podman() {
  local sock=$RUN/podman.sock
  export CONTAINERS_CONF=$RUN/containers.conf
  cat >"$CONTAINERS_CONF" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  if ping_sock "$sock"; then log "podman already up on $sock"; else
    stop_pidfile podman "$RUN/podman.pid"
    reset_state "$RUN/podman-runroot" "$RUN/podman-root"
    mkdir -p "$RUN/podman-root" "$RUN/podman-runroot"
    rm -f "$sock"
    (cd "$RUN" && exec setsid podman --root "$RUN/podman-root" --runroot "$RUN/podman-runroot" \
      system service --time=0 "unix://$sock") >"$RUN/podman.log" 2>&1 </dev/null &
    echo $! >"$RUN/podman.pid"
    wait_for podman 60 ping_sock "$sock" || { tail -20 "$RUN/podman.log" >&2; return 1; }
    log "podman up on $sock"
  fi
  import_image "$sock"
}

# alive PID COMM — PID runs COMM and is not a zombie (a pid file may outlive
# its process and the pid be reused; PID 1 here does not always reap).
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  [[ $stat == "$1 ($2) "* ]] && [[ $stat != "$1 ($2) Z "* ]]
}

stop_pidfile() { # NAME PIDFILE
  local pidf=$2 pid
  [ -f "$pidf" ] || return 0
  pid=$(cat "$pidf")
  if alive "$pid" "$1"; then
    kill "$pid" 2>/dev/null || true
    wait_for "$1 to exit" 30 bash -c "$(declare -f alive); ! alive $pid $1" || kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidf"
}

print_env() {
  echo "export DMS_RUN=$RUN"
  echo "export DMS_DOCKER_HOST=unix://$RUN/docker.sock"
  echo "export DMS_PODMAN_HOST=unix://$RUN/podman.sock"
  echo "export DMS_TEST_IMAGE=$IMAGE"
  echo "export CONTAINERS_CONF=$RUN/containers.conf"
}

mkdir -p "$RUN"
cmd=${1:-start}; which=${2:-all}
case "$cmd" in
  start)
    case "$which" in docker) start_docker ;; podman) start_podman ;; all) start_docker; start_podman ;; *) exit 2 ;; esac
    print_env ;;
  stop)
    case "$which" in
      docker) stop_pidfile dockerd "$RUN/docker.pid" ;;
      podman) stop_pidfile podman "$RUN/podman.pid" ;;
      all) stop_pidfile podman "$RUN/podman.pid"; stop_pidfile dockerd "$RUN/docker.pid" ;;
      *) exit 2 ;;
    esac ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|env [docker|podman|all]" >&2; exit 2 ;;
esac
