#!/usr/bin/env bash
# Installs every Debian package the build, the engines and the tests need.
# Idempotent: skips apt entirely when everything is already present.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang clang-format clang-tidy
  libcurl4-openssl-dev libyajl-dev libyaml-dev libdbus-1-dev libcriterion-dev
  dbus python3-dbus python3-behave
  docker.io containerd runc podman busybox-static
  curl iproute2 valgrind
  docker-registry apache2-utils
  golang-go golang-dbus-dev
  jq openssl
  debhelper scdoc lintian adduser man-db
  prometheus-node-exporter
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
