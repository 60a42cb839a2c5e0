#!/usr/bin/env bash
# The Debian package, end to end, on this machine (docs/packaging.md):
#  1. builds dms-executor and libdms-executor-dev with dpkg-buildpackage
#     from a copy of the tracked tree (never in the source tree), checks
#     them with lintian (no error allowed; warnings are printed);
#  2. installs both with dpkg -i and checks what went where: the group dms,
#     the conffile, the plugin dms-host finds, the man pages (man -w), the
#     bash completion, the pkg-config file;
#  3. points the installed /etc/dms/executor.yaml at the engine, as an
#     operator would, starts a private bus with the system bus's own
#     config (the installed policy directory included) and dms-host with
#     the installed unit's ExecStart line, and runs a job as an
#     unprivileged member of dms with the installed `dmsctl --system`;
#     a user outside dms is refused;
#  4. purges both and checks that nothing of them is left: no file dpkg
#     listed, no conffile, no state, no systemd enablement, no group.
# Needs root, the packages of scripts/install-deps.sh and a running
# dockerd (DMS_DOCKER_HOST, scripts/engines.sh). Stops and removes all it
# started. Ends with "N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "test-package.sh: needs root (dpkg -i)" >&2; exit 1; }
engine=${DMS_DOCKER_HOST:-unix://${DMS_RUN:-/tmp/dms-run}/docker.sock}
engine_sock=${engine#unix://}
image=${DMS_TEST_IMAGE:-dms-test/busybox:latest}
testuser=dms-pkgtest
pkgs=(dms-executor libdms-executor-dev)
version=$(grep -m1 -o '^project.dms-executor VERSION [0-9.]*' CMakeLists.txt | cut -d' ' -f3)

installed() { dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed; }
# Refuse to touch what this test did not make.
if getent group dms >/dev/null && ! installed dms-executor; then
	echo "test-package.sh: a group dms exists without the package; not touching it" >&2
	exit 1
fi
# The purge removes /var/lib/dms-executor: refuse when it holds state
# (execution records, log spools) that is not ours. Empty directories left
# by a test run without DMS_STATE_DIR hold nothing and are removed with it.
if ! installed dms-executor && [ -n "$(find /var/lib/dms-executor -type f 2>/dev/null | head -1)" ]; then
	echo "test-package.sh: /var/lib/dms-executor holds state not made by the package; not touching it" >&2
	exit 1
fi
if installed dms-executor || installed libdms-executor-dev; then
	echo "test-package.sh: dms-executor is installed (left by an earlier run?): purging it first"
	dpkg --purge "${pkgs[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/dms-package.XXXXXX)
chmod 755 "$work"
host_pid="" bus_pid="" xid="pkgtest-$$-$RANDOM"
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok:   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
# check NAME CMD...: one counted check (returns 0 either way: set -e).
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else bad "$name"; fi
}
# The engine's containers of this test's job (by its execution label).
job_containers() {
	curl -sf --unix-socket "$engine_sock" -G "http://engine/containers/json" \
		--data-urlencode all=1 \
		--data-urlencode "filters={\"label\":[\"org.dms.execution=$xid\"]}" |
		grep -o '"Id":"[0-9a-f]*"' | cut -d'"' -f4 || true
}
cleanup() {
	set +e
	[ -n "$host_pid" ] && kill "$host_pid" 2>/dev/null && wait "$host_pid" 2>/dev/null
	[ -n "$bus_pid" ] && kill "$bus_pid" 2>/dev/null && wait "$bus_pid" 2>/dev/null
	for c in $(job_containers); do
		curl -sf --unix-socket "$engine_sock" -X DELETE "http://engine/containers/$c?force=1" >/dev/null
	done
	getent passwd "$testuser" >/dev/null && userdel "$testuser"
	if installed dms-executor || installed libdms-executor-dev; then
		dpkg --purge "${pkgs[@]}" >/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# Polls CMD every 0.1 s until it succeeds or SECONDS_ seconds passed.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.1
	done
}

# --- 1. build and lintian ---------------------------------------------
echo "== package: build (dpkg-buildpackage -b, version $version)"
src=$work/src/dms-executor-$version
mkdir -p "$src"
git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$src"
t0=$SECONDS
# nocheck: scripts/test.sh runs the unit tests itself.
if (cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
	dpkg-buildpackage -b -us -uc -Pnocheck >"$work/build.log" 2>&1); then
	ok "dpkg-buildpackage ($((SECONDS - t0)) s)"
else
	tail -40 "$work/build.log"
	bad "dpkg-buildpackage"
	echo "$passed passed, $failed failed"
	exit 1
fi
debs=()
for p in "${pkgs[@]}"; do
	debs+=("$work/src/${p}_${version}_$(dpkg --print-architecture).deb")
done
check "built ${debs[*]##*/}" test -f "${debs[0]}" -a -f "${debs[1]}"

echo "== package: lintian"
lintian_rc=0
lintian --pedantic --fail-on error "$work/src/dms-executor_${version}_$(dpkg --print-architecture).changes" \
	>"$work/lintian.log" 2>&1 || lintian_rc=$?
grep -v 'running with root privileges' "$work/lintian.log" || true
check "lintian: no error ($(grep -c '^E:' "$work/lintian.log" || true) errors, $(grep -c '^W:' "$work/lintian.log" || true) warnings)" \
	test $lintian_rc = 0

# --- 2. install ---------------------------------------------------------
echo "== package: dpkg -i"
# What of the packages' paths exists before (/, /usr, /lib...): the purge
# must leave exactly those.
for d in "${debs[@]}"; do
	dpkg-deb --fsys-tarfile "$d" | tar -t | sed -e 's|^\./|/|' -e 's|/$||' -e 's|^$|/|'
done | sort -u | while read -r f; do
	if [ -e "$f" ] || [ -L "$f" ]; then echo "$f"; fi
done >"$work/before"
if ! dpkg -i "${debs[@]}" >"$work/dpkg-i.log" 2>&1; then
	cat "$work/dpkg-i.log"
	bad "dpkg -i"
	echo "$passed passed, $failed failed"
	exit 1
fi
ok "dpkg -i"
dpkg -L "${pkgs[@]}" | sort -u >"$work/files"
check "postinst made the system group dms" getent group dms
check "/etc/dms/executor.yaml is a conffile" \
	grep -q '^ /etc/dms/executor.yaml ' <<<"$(dpkg-query -W -f='${Conffiles}\n' dms-executor)"
unit=$(grep -m1 '/systemd/system/dms-host.service$' "$work/files")
check "the unit is installed ($unit)" test -f "$unit"
# (also checks that ExecStart's binary and the man pages of Documentation= exist)
if command -v systemd-analyze >/dev/null; then
	check "systemd-analyze verify $unit" timeout 60 systemd-analyze verify "$unit"
else
	echo "skip: systemd-analyze verify (no systemd package on this machine)"
fi
check "the unit is enabled (dh_installsystemd)" \
	test -L /etc/systemd/system/multi-user.target.wants/dms-host.service
plugin=$(grep -m1 '/dms-executor.so$' "$work/files")
check "dms-host looks for the installed plugin ($plugin)" \
	grep -qF "$plugin" <<<"$(/usr/bin/dms-host --help)"
check "the .pc names the installed plugin" \
	test "$(realpath "$(pkg-config --variable=plugindir dms-executor)")" = "$plugin"
for page in dmsctl 8:dms-host 5:dms-executor.yaml; do
	sec=${page%%:*} name=${page#*:}
	[ "$sec" = "$page" ] && sec=1
	check "man -w $sec $name" man -w "$sec" "$name"
done
check "bash completion registers dmsctl" \
	bash -c 'source /usr/share/bash-completion/completions/dmsctl && complete -p dmsctl >/dev/null'

# --- 3. a job through the installed binaries on a system bus -------------
echo "== package: dms-host on a system bus, a job as a member of dms"
# The operator's edit: the engine this machine's executor drives.
sed -i "s|^# host: .*|host: $engine|" /etc/dms/executor.yaml
check "executor.yaml points at $engine" grep -qx "host: $engine" /etc/dms/executor.yaml

# The system bus's own config, on a socket of ours: no pid file, no fork,
# no service activation, no user switch; the policy directories
# (/usr/share/dbus-1/system.d with the installed policy) stay included.
sed -e "s|<listen>[^<]*</listen>|<listen>unix:path=$work/system_bus_socket</listen>|" \
	-e '/<pidfile>/d' -e '/<fork\/>/d' -e '/<user>/d' -e '/<syslog\/>/d' \
	-e '/<standard_system_servicedirs\/>/d' -e '/<servicehelper>/d' -e '/if_selinux_enabled/d' \
	-e 's|<includedir>system.d</includedir>|<includedir>/usr/share/dbus-1/system.d</includedir>|' \
	/usr/share/dbus-1/system.conf >"$work/system.conf"
dbus-daemon --config-file="$work/system.conf" --nofork --print-address=3 \
	3>"$work/bus.address" 2>"$work/dbus.log" &
bus_pid=$!
check "system bus up" wait_for 10 test -s "$work/bus.address"
addr=$(head -1 "$work/bus.address")
export DBUS_SYSTEM_BUS_ADDRESS=$addr

# As systemd would: its StateDirectory=, then ExecStart= in a clean
# environment (the bus address is what systemd's would be).
state=$(sed -n 's/^StateDirectory=//p' "$unit")
install -d -m 0755 "/var/lib/$state"
execstart=$(sed -n 's/^ExecStart=//p' "$unit")
echo "ExecStart: $execstart"
# shellcheck disable=SC2086 # the unit's command line, split as systemd does (no quoting in it)
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DBUS_SYSTEM_BUS_ADDRESS="$addr" \
	$execstart >"$work/dms-host.log" 2>&1 &
host_pid=$!
owned() {
	dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.NameHasOwner string:org.dms.Executor 2>/dev/null | grep -q 'boolean true'
}
if wait_for 30 owned; then
	ok "dms-host owns org.dms.Executor on the system bus"
else
	cat "$work/dms-host.log"
	bad "dms-host owns org.dms.Executor on the system bus"
fi

id -u "$testuser" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin \
	-G dms "$testuser"
check "$testuser is an unprivileged member of dms" \
	test "$(id -u "$testuser")" != 0 -a "$(id -nG "$testuser" | tr ' ' '\n' | grep -cx dms)" = 1

rc=0
(cd / && runuser -u "$testuser" -- env -i PATH=/usr/bin:/bin DBUS_SYSTEM_BUS_ADDRESS="$addr" /usr/bin/dmsctl --system -v \
	run --name "$xid" "$image" -- sh -c 'echo "hello from the package"; exit 7') \
	>"$work/run.out" 2>"$work/run.err" || rc=$?
cat "$work/run.out" "$work/run.err"
check "the job ran through dms-host (not in-process)" grep -q 'using dms-host on the bus' "$work/run.err"
check "the job's output came back" grep -qx 'hello from the package' "$work/run.out"
check "dmsctl exited with the job's exit code (7, got $rc)" test $rc = 7
no_job_containers() { [ -z "$(job_containers)" ]; }
check "the job's container was removed" wait_for 30 no_job_containers

rc=0
(cd / && runuser -u nobody -- env -i PATH=/usr/bin:/bin DBUS_SYSTEM_BUS_ADDRESS="$addr" /usr/bin/dmsctl --system \
	run "$image" -- true) >"$work/nobody.out" 2>&1 || rc=$?
cat "$work/nobody.out"
check "a user outside dms is refused (exit $rc)" test $rc != 0
check "... by the installed policy (AccessDenied)" grep -q 'AccessDenied' "$work/nobody.out"

kill -TERM "$host_pid"
rc=0
wait "$host_pid" || rc=$?
host_pid=""
check "dms-host stopped cleanly on SIGTERM (exit $rc)" test $rc = 0
kill "$bus_pid"
wait "$bus_pid" 2>/dev/null || true
bus_pid=""
userdel "$testuser"

# --- 4. purge -----------------------------------------------------------
echo "== package: dpkg --purge"
check "dpkg --purge" dpkg --purge "${pkgs[@]}"
for p in "${pkgs[@]}"; do
	check "$p is not installed" bash -c "! dpkg-query -W -f='\${db:Status-Status}' $p 2>/dev/null | grep -qx installed"
done
left=()
while read -r f; do
	[ "$f" = /. ] && continue
	if { [ -e "$f" ] || [ -L "$f" ]; } && ! grep -qxF "$f" "$work/before"; then
		left+=("$f")
	fi
done <"$work/files"
check "nothing dpkg listed is left (${left[*]:-none})" test ${#left[@]} = 0
check "the conffile is gone" test ! -e /etc/dms/executor.yaml -a ! -e /etc/dms
check "the state directory is gone" test ! -e /var/lib/dms-executor
check "no systemd enablement is left" \
	test -z "$(find /etc/systemd /var/lib/systemd -name 'dms-host*' 2>/dev/null)"
check "the group dms is gone" bash -c '! getent group dms'

echo "$passed passed, $failed failed"
[ $failed = 0 ]
