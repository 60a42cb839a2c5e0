#!/usr/bin/env bash
# Installs the build into a temporary prefix, builds tests/install/
# minimal_host.c against the installed header through pkg-config only, and
# runs `echo hello` through the installed plugin on the engine under test.
# Usage: check.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
prefix=$(mktemp -d /tmp/dms-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH=$(dirname "$(find "$prefix" -name dms-executor.pc)")
plugin=$(pkg-config --variable=plugindir dms-executor)
# (grep -c, not -q: under pipefail an early exit would fail the pipeline)
san=""; [ "$(nm -D "$plugin" | grep -c __asan_init)" != 0 ] && san="-fsanitize=address,undefined"
cc -std=c11 -Wall -Wextra -Werror $san $(pkg-config --cflags dms-executor) \
	"$src/tests/install/minimal_host.c" -o "$prefix/minimal_host" $(pkg-config --libs dms-executor)
host=${DMS_DOCKER_HOST:-unix:///tmp/dms-run/docker.sock}
state=$(mktemp -d /tmp/dms-install-state.XXXXXX)
out=$("$prefix/minimal_host" "$plugin" "runtime: docker
host: $host
state_dir: $state" \
	'{"job_id":"j","execution_id":"install-check","engine_spec":{"type":"docker","params":{"image":"dms-test/busybox:latest","cmd":["echo","hello"]}}}')
rm -rf "$state"
echo "$out"
case "$out" in
*'"exit_code":0'*'"stdout":"hello\n"'*) echo "1 passed, 0 failed" ;;
*) echo "unexpected result"; echo "0 passed, 1 failed"; exit 1 ;;
esac
