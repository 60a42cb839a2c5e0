#!/usr/bin/env bash
# Starts and stops the private engines the tests use: a dockerd and a Podman
# API service on private sockets with private state under $DMS_RUN, plus the
# busybox-static test image imported into each (no registry is reachable).
#
#   scripts/engines.sh start [docker|podman|all]   # prints the env to export
#   scripts/engines.sh stop  [docker|podman|all]
#   scripts/engines.sh env                          # prints the env only
#   scripts/engines.sh start|stop|env swarm         # the three-node swarm (below)
#
# The swarm (not part of `all`: scripts/test.sh starts it beside the others):
# three private dockerds under $DMS_SWARM_RUN (default $DMS_RUN/swarm), node 0
# the manager, nodes 1 and 2 workers, each with its own socket, data root,
# exec root, containerd namespace and swarm port (DMS_SWARM_PORT + i, default
# 2477), the test image imported on every node. The manager also listens on
# tcp://127.0.0.1:$DMS_SWARM_TCP_PORT (default DMS_SWARM_PORT + 3) with
# --tlsverify and certificates made here with openssl under $DMS_SWARM_RUN/tls.
# Unlike the docker and podman engines, a node that is not running restarts
# on the state it left (its swarm membership); the state is wiped only when
# the swarm is not healthy then. `start swarm` on a running swarm starts the
# nodes that are down (after a kill -9 of one) and waits until all are ready.
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

import_image() { # SOCKET [CHANGES] — CHANGES: a Dockerfile line, URL-encoded
  local sock=$1 changes=${2:-} tar repo tag
  repo=${IMAGE%:*}; tag=${IMAGE##*:}
  if curl -fsS --unix-socket "$sock" "http://d/images/$IMAGE/json" >/dev/null 2>&1; then return; fi
  tar=$(build_rootfs_tar)
  curl -fsS --unix-socket "$sock" -X POST -H 'Content-Type: application/x-tar' \
    --data-binary "@$tar" "http://d/images/create?fromSrc=-&repo=$repo&tag=$tag${changes:+&changes=$changes}" >/dev/null
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

# --- the swarm: three dockerds, one manager and two workers ------------------
SWARM=${DMS_SWARM_RUN:-$RUN/swarm}
SWARM_PORT=${DMS_SWARM_PORT:-2477}
SWARM_TCP_PORT=${DMS_SWARM_TCP_PORT:-$((SWARM_PORT + 3))}
# containerd namespaces: <name>-n0, <name>-n1, ... (<name> the run dir's base name)
SWARM_NS=${DMS_SWARM_NAMESPACE:-$(basename "$SWARM")}
SWARM_NODES=(0 1 2)

swarm_sock() { echo "$SWARM/n$1/docker.sock"; }
swarm_api() { # NODE PATH [CURL ARGS...]
  local sock; sock=$(swarm_sock "$1"); local path=$2; shift 2
  curl -fsS --max-time 60 --unix-socket "$sock" "$@" "http://d$path"
}
swarm_post() { # NODE PATH JSON
  swarm_api "$1" "$2" -X POST -H 'Content-Type: application/json' --data-binary "$3"
}
swarm_info() { swarm_api "$1" /info | jq -r "$2"; }

# The CA, the manager's server certificate (127.0.0.1, localhost) and a client
# certificate, as `docker --tlsverify` expects them: ca.pem, cert.pem, key.pem.
swarm_tls() {
  local d=$SWARM/tls
  [ -s "$d/key.pem" ] && [ -s "$d/server-key.pem" ] && return 0
  rm -rf "$d"; mkdir -p "$d"; chmod 700 "$d"
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=dms-test swarm CA" \
      -keyout ca-key.pem -out ca.pem
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server-key.pem -out server.csr
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
      -extfile server.ext -out server-cert.pem
    openssl req -newkey rsa:2048 -nodes -subj "/CN=dms-test client" -keyout key.pem.tmp -out client.csr
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
      -extfile client.ext -out cert.pem
    rm -f server.csr client.csr server.ext client.ext
    mv key.pem.tmp key.pem
  ) >"$SWARM/openssl.log" 2>&1 || { cat "$SWARM/openssl.log" >&2; return 1; }
  log "made the swarm's TLS certificates in $d"
}

# A pid file whose process is gone (or a zombie) would stop dockerd from
# starting, or make it take a dead containerd for a live one.
remove_stale_pidfile() { # NAME PIDFILE
  [ -f "$2" ] || return 0
  alive "$(cat "$2")" "$1" || rm -f "$2"
}

swarm_start_node() { # NODE — starts its dockerd on the state it left
  local i=$1 d=$SWARM/n$1 sock extra=()
  sock=$(swarm_sock "$i")
  ping_sock "$sock" && return 0
  remove_stale_pidfile dockerd "$d/docker.pid"
  remove_stale_pidfile containerd "$d/exec/containerd/containerd.pid"
  mkdir -p "$d/data" "$d/exec"
  if [ "$i" = 0 ]; then
    extra=(--host "tcp://127.0.0.1:$SWARM_TCP_PORT" --tlsverify --tlscacert "$SWARM/tls/ca.pem"
      --tlscert "$SWARM/tls/server-cert.pem" --tlskey "$SWARM/tls/server-key.pem")
  fi
  (cd "$d" && exec setsid dockerd --host "unix://$sock" "${extra[@]}" --data-root "$d/data" \
    --exec-root "$d/exec" --pidfile "$d/docker.pid" --iptables=false --ip6tables=false \
    --bridge=none --storage-driver=vfs --containerd-namespace "$SWARM_NS-n$i" \
    --containerd-plugins-namespace "$SWARM_NS-n${i}p" --swarm-default-advertise-addr=lo) \
    >>"$d/dockerd.log" 2>&1 </dev/null &
}

# A node's swarm state once it has settled: a restarted node is "pending"
# while it reconnects to the manager.
swarm_settled_state() { # NODE
  local s
  s=$(swarm_info "$1" .Swarm.LocalNodeState) || return 1
  [ "$s" != pending ] && echo "$s"
}

swarm_init() {
  local s
  wait_for "swarm node 0 to settle" 60 swarm_settled_state 0 || return 1
  s=$(swarm_settled_state 0)
  if [ "$s" = active ] && [ "$(swarm_info 0 .Swarm.ControlAvailable)" = true ]; then return 0; fi
  [ "$s" = inactive ] || swarm_api 0 "/swarm/leave?force=1" -X POST >/dev/null
  swarm_post 0 /swarm/init "{\"ListenAddr\":\"127.0.0.1:$SWARM_PORT\",\"AdvertiseAddr\":\"127.0.0.1:$SWARM_PORT\"}" >/dev/null
  log "swarm initialised on node 0 (127.0.0.1:$SWARM_PORT)"
}

swarm_join() { # NODE
  local i=$1 s port=$((SWARM_PORT + $1)) token managers
  wait_for "swarm node $i to settle" 60 swarm_settled_state "$i" || return 1
  s=$(swarm_settled_state "$i")
  managers=$(swarm_info "$i" '[.Swarm.RemoteManagers[]?.Addr] | join(",")')
  if [ "$s" = active ] && [ "$managers" = "127.0.0.1:$SWARM_PORT" ] &&
    [ "$(swarm_info "$i" .Swarm.ControlAvailable)" = false ]; then return 0; fi
  [ "$s" = inactive ] || swarm_api "$i" "/swarm/leave?force=1" -X POST >/dev/null
  token=$(swarm_api 0 /swarm | jq -r .JoinTokens.Worker)
  swarm_post "$i" /swarm/join "{\"ListenAddr\":\"127.0.0.1:$port\",\"AdvertiseAddr\":\"127.0.0.1:$port\",\
\"RemoteAddrs\":[\"127.0.0.1:$SWARM_PORT\"],\"JoinToken\":\"$token\"}" >/dev/null
  log "swarm node $i joined as a worker (127.0.0.1:$port)"
}

swarm_node_ids() { for i in "${SWARM_NODES[@]}"; do swarm_info "$i" .Swarm.NodeID; done; }

# Every node of ours is ready on the manager (and the manager reachable).
swarm_ready() {
  local ids nodes id
  ids=$(swarm_node_ids) || return 1
  nodes=$(swarm_api 0 /nodes) || return 1
  for id in $ids; do
    [ "$(jq -r --arg id "$id" '.[] | select(.ID == $id) | .Status.State' <<<"$nodes")" = ready ] || return 1
  done
  [ "$(jq -r '[.[] | select(.ManagerStatus.Reachability == "reachable")] | length' <<<"$nodes")" = 1 ]
}

# Nodes the manager knows that are not ours (left behind by a node that
# rejoined with a new identity) are removed, and each of ours carries the
# label dms.node=n<i> for placement constraints (node.labels.dms.node==n1).
swarm_tidy_nodes() {
  local ids nodes id i spec version
  ids=$(swarm_node_ids)
  nodes=$(swarm_api 0 /nodes)
  for id in $(jq -r '.[].ID' <<<"$nodes"); do
    grep -qx "$id" <<<"$ids" || { swarm_api 0 "/nodes/$id?force=1" -X DELETE >/dev/null; log "removed stale swarm node $id"; }
  done
  for i in "${SWARM_NODES[@]}"; do
    id=$(swarm_info "$i" .Swarm.NodeID)
    [ "$(jq -r --arg id "$id" '.[] | select(.ID == $id) | .Spec.Labels["dms.node"] // ""' <<<"$nodes")" = "n$i" ] && continue
    version=$(jq -r --arg id "$id" '.[] | select(.ID == $id) | .Version.Index' <<<"$nodes")
    spec=$(jq -c --arg id "$id" --arg n "n$i" '.[] | select(.ID == $id) | .Spec | .Labels["dms.node"] = $n' <<<"$nodes")
    swarm_post 0 "/nodes/$id/update?version=$version" "$spec" >/dev/null
  done
}

start_swarm() {
  local i pids=() rc=0
  mkdir -p "$SWARM"
  swarm_tls
  for i in "${SWARM_NODES[@]}"; do swarm_start_node "$i"; done
  for i in "${SWARM_NODES[@]}"; do
    wait_for "swarm node $i" 60 ping_sock "$(swarm_sock "$i")" ||
      { tail -20 "$SWARM/n$i/dockerd.log" >&2; return 1; }
  done
  swarm_init
  for i in "${SWARM_NODES[@]:1}"; do swarm_join "$i"; done
  wait_for "the swarm's three nodes to be ready" 90 swarm_ready ||
    { swarm_api 0 /nodes | jq -c '.[] | [.ID, .Status, .ManagerStatus]' >&2; return 1; }
  swarm_tidy_nodes
  build_rootfs_tar >/dev/null # once, before the parallel imports share it
  # With an ENV PATH: a swarm task gets no default PATH from dockerd (docker
  # run does), so a command "sh" would not be found in an image without one.
  for i in "${SWARM_NODES[@]}"; do
    import_image "$(swarm_sock "$i")" "ENV%20PATH%3D%2Fusr%2Flocal%2Fsbin%3A%2Fusr%2Flocal%2Fbin%3A%2Fusr%2Fsbin%3A%2Fusr%2Fbin%3A%2Fsbin%3A%2Fbin" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || rc=1; done
  [ $rc = 0 ] || { log "the test image did not import on every swarm node"; return 1; }
  log "swarm up: manager $(swarm_sock 0), tcp://127.0.0.1:$SWARM_TCP_PORT (TLS), workers $(swarm_sock 1) $(swarm_sock 2)"
}

# Workers first, then the manager (a manager stopping first would see its
# workers go down and reschedule their tasks).
stop_swarm() {
  local i
  for i in 2 1 0; do stop_pidfile dockerd "$SWARM/n$i/docker.pid"; done
}

print_swarm_env() {
  local i id
  echo "export DMS_SWARM_RUN=$SWARM"
  echo "export DMS_SWARM_HOST=unix://$(swarm_sock 0)"
  echo "export DMS_SWARM_TCP=tcp://127.0.0.1:$SWARM_TCP_PORT"
  echo "export DMS_SWARM_TLS_CA=$SWARM/tls/ca.pem"
  echo "export DMS_SWARM_TLS_CERT=$SWARM/tls/cert.pem"
  echo "export DMS_SWARM_TLS_KEY=$SWARM/tls/key.pem"
  for i in "${SWARM_NODES[@]}"; do
    echo "export DMS_SWARM_NODE$i=unix://$(swarm_sock "$i")"
    id=$(swarm_info "$i" .Swarm.NodeID 2>/dev/null) && [ -n "$id" ] && echo "export DMS_SWARM_NODE${i}_ID=$id"
  done
  echo "export DMS_TEST_IMAGE=$IMAGE"
}

mkdir -p "$RUN"
cmd=${1:-start}; which=${2:-all}
case "$cmd" in
  start)
    case "$which" in
      docker) start_docker ;; podman) start_podman ;; all) start_docker; start_podman ;;
      swarm) start_swarm; print_swarm_env; exit 0 ;;
      *) exit 2 ;;
    esac
    print_env ;;
  stop)
    case "$which" in
      docker) stop_pidfile dockerd "$RUN/docker.pid" ;;
      podman) stop_pidfile podman "$RUN/podman.pid" ;;
      all) stop_pidfile podman "$RUN/podman.pid"; stop_pidfile dockerd "$RUN/docker.pid" ;;
      swarm) stop_swarm ;;
      *) exit 2 ;;
    esac ;;
  env) if [ "$which" = swarm ]; then print_swarm_env; else print_env; fi ;;
  *) echo "usage: $0 start|stop|env [docker|podman|all|swarm]" >&2; exit 2 ;;
esac
