"""dmshost.py — shared fixture for the D-Bus tests: a private dbus-daemon and
a dms-host on it per test class, clients, deadlines, and request builders.

Why: every tests/dbus/test_*.py file drives the public surface only (the
org.dms.Executor bus API and the dmsctl binary) against a real dms-host and
the real engine named by $DMS_DOCKER_HOST. Waiting is always on an event
with a deadline (a GLib main loop with a timeout), never a fixed sleep.
"""
import atexit
import json
import os
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

try:
    import dbus
except ImportError:  # a python3 that is not Debian's (e.g. pyenv)
    sys.path.append('/usr/lib/python3/dist-packages')
    import dbus
import dbus.mainloop.glib
from gi.repository import GLib

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)

# Every temporary file and directory a test module makes (state dirs,
# dms-host logs, private buses) goes under one directory per process,
# removed when the process exits. 0755: test_policy's unprivileged client
# reaches a bus socket under it.
TMP_ROOT = tempfile.mkdtemp(prefix='dms-dbus-test-')
os.chmod(TMP_ROOT, 0o755)
atexit.register(shutil.rmtree, TMP_ROOT, True)
tempfile.tempdir = TMP_ROOT

SOURCE_DIR = os.environ.get('DMS_SOURCE_DIR') or os.path.abspath(
    os.path.join(os.path.dirname(__file__), '..', '..'))
BINARY_DIR = os.environ.get('DMS_BINARY_DIR') or os.path.join(SOURCE_DIR, 'build')
DMS_HOST = os.path.join(BINARY_DIR, 'bin', 'dms-host')
DMSCTL = os.path.join(BINARY_DIR, 'bin', 'dmsctl')
PLUGIN = os.path.join(BINARY_DIR, 'lib', 'dms-executor.so')
BAD_ABI_PLUGIN = os.path.join(BINARY_DIR, 'lib', 'dms-bad-abi-plugin.so')
DOCKER_HOST = os.environ.get('DMS_DOCKER_HOST', 'unix:///tmp/dms-run/docker.sock')
IMAGE = os.environ.get('DMS_TEST_IMAGE', 'dms-test/busybox:latest')

BUS_NAME = 'org.dms.Executor'
MANAGER_PATH = '/org/dms/Executor'
MANAGER_IFACE = 'org.dms.ExecutorManager1'
EXECUTOR_IFACE = 'org.dms.Executor1'
PROPS_IFACE = 'org.freedesktop.DBus.Properties'

CALL_TIMEOUT = 120  # seconds, for blocking calls


def engine_available():
    """True when the engine socket answers GET /_ping with OK."""
    if not DOCKER_HOST.startswith('unix://'):
        return True
    path = DOCKER_HOST[len('unix://'):]
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(path)
            s.sendall(b'GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n')
            data = b''
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return data.endswith(b'OK')
    except OSError:
        return False


def wait_until(predicate, timeout, what):
    """Runs the GLib main loop (so signals and async replies are delivered)
    until predicate() is true; fails the test after `timeout` seconds."""
    if predicate():
        return
    loop = GLib.MainLoop()
    deadline = time.monotonic() + timeout
    state = {'ok': False}

    def check():
        if predicate():
            state['ok'] = True
            loop.quit()
            return False
        if time.monotonic() >= deadline:
            loop.quit()
            return False
        return True

    GLib.timeout_add(10, check)
    loop.run()
    if not state['ok']:
        raise AssertionError('timed out after %.0fs waiting for %s' % (timeout, what))


def read_line_with_deadline(stream, timeout, what):
    deadline = time.monotonic() + timeout
    buf = b''
    while not buf.endswith(b'\n'):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([stream], [], [], left)[0]:
            raise AssertionError('timed out waiting for ' + what)
        chunk = os.read(stream.fileno(), 1)
        if not chunk:
            raise AssertionError('EOF waiting for ' + what)
        buf += chunk
    return buf.decode().strip()


class PrivateBus:
    """A dbus-daemon of our own, our child: the session configuration, or
    config_file (test_policy.py: a system-like bus with its own policy)."""

    def __init__(self, config_file=None):
        conf = ['--config-file=' + config_file] if config_file else ['--session', '--nopidfile']
        self.proc = subprocess.Popen(
            ['dbus-daemon'] + conf + ['--nofork', '--print-address=1'],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)  # it warns that it cannot raise its fd limit
        self.address = read_line_with_deadline(self.proc.stdout, 10, 'dbus-daemon address')

    def connect(self):
        return dbus.bus.BusConnection(self.address)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc.stdout.close()


class Host:
    """A dms-host on a PrivateBus. stop() returns (exit status, log)."""

    def __init__(self, bus, args=(), wait_for_name=True, env=None, wrapper=(), system=False):
        # wrapper: a command that runs dms-host (e.g. strace -f -o FILE);
        # proc is then the wrapper's process. Without one, $DMS_HOST_WRAPPER
        # (shell words) is used: scripts/valgrind.sh runs whole modules' hosts
        # under `valgrind --error-exitcode=99 --log-file=...`.
        if not wrapper:
            wrapper = shlex.split(os.environ.get('DMS_HOST_WRAPPER', ''))
        self.bus = bus
        self.log = tempfile.NamedTemporaryFile(prefix='dms-host-', suffix='.log', delete=False)
        e = dict(os.environ)
        # system: dms-host --system on the bus (a system-like PrivateBus).
        e['DBUS_SYSTEM_BUS_ADDRESS' if system else 'DBUS_SESSION_BUS_ADDRESS'] = bus.address
        e['DOCKER_HOST'] = DOCKER_HOST
        e.setdefault('ASAN_OPTIONS', 'detect_leaks=1')
        if env:
            e.update(env)
        kind = '--system' if system else '--session'
        self.proc = subprocess.Popen(list(wrapper) + [DMS_HOST, kind] + list(args), env=e,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        if wait_for_name:
            conn = bus.connect()
            try:
                wait_until(lambda: conn.name_has_owner(BUS_NAME) or self.proc.poll() is not None,
                           30, 'dms-host to own ' + BUS_NAME)
            finally:
                conn.close()
            if self.proc.poll() is not None:
                raise AssertionError('dms-host exited with %d:\n%s' %
                                     (self.proc.returncode, self.read_log()))

    def read_log(self):
        with open(self.log.name, errors='replace') as f:
            return f.read()

    def wait_exit(self, timeout=30):
        try:
            return self.proc.wait(timeout=timeout), self.read_log()
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError('dms-host did not exit within %ds:\n%s' %
                                 (timeout, self.read_log()))

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        status, log = self.wait_exit(timeout)
        os.unlink(self.log.name)
        return status, log


def host_ended_badly(status, log):
    """A dms-host exit that fails the test: a non-zero status or a sanitizer
    report in its log."""
    return status != 0 or 'AddressSanitizer' in log or 'runtime error' in log


def teardown(conn=None, host=None, bus=None, engine=None, executors=(), dirs=(), stop=(),
             check_host=True):
    """The one teardown of the D-Bus tests, in the reverse order of their
    setup: each (executor interface, manager, executor id) of `executors` is
    cleaned up and removed (D-Bus errors ignored: a failed test may have taken
    them already), the connection closed, dms-host stopped (SIGTERM, with a
    deadline), the bus stopped, then the objects of `stop` (a registry...),
    the PrivateEngine, the directories of `dirs`. Every step runs even when
    one before it raised; the first such error is raised at the end. Returns
    dms-host's (status, log), (None, '') without one; with check_host, a
    dms-host that ended badly (host_ended_badly) fails."""
    steps = []
    for ex, manager, executor_id in executors:
        def clean(ex=ex, manager=manager, executor_id=executor_id):
            try:
                ex.Cleanup(timeout=CALL_TIMEOUT)
                manager.RemoveExecutor(executor_id, timeout=CALL_TIMEOUT)
            except dbus.DBusException:
                pass
        steps.append(clean)
    if conn is not None:
        steps.append(conn.close)
    result = [None, '']
    if host is not None:
        def stop_host():
            result[:] = host.stop()
        steps.append(stop_host)
    if bus is not None:
        steps.append(bus.stop)
    steps.extend(o.stop for o in stop)
    if engine is not None:
        steps.append(engine.stop)
    steps.extend(lambda d=d: shutil.rmtree(d, ignore_errors=True) for d in dirs)
    first = None
    for step in steps:
        try:
            step()
        except BaseException as e:  # noqa: B902 — the rest must still run
            first = first or e
    if first is not None:
        raise first
    status, log = result
    if check_host and host is not None and host_ended_badly(status, log):
        raise AssertionError('dms-host ended badly (%d):\n%s' % (status, log))
    return status, log


_counter = [0]


def unique(prefix):
    _counter[0] += 1
    return '%s-%d-%d-%d' % (prefix, os.getpid(), int(time.time() * 1000) % 100000, _counter[0])


def executor_path(executor_id):
    """The object path of an executor: bytes outside [A-Za-z0-9] -> _xx."""
    return MANAGER_PATH + '/' + (''.join(
        chr(b) if chr(b).isascii() and chr(b).isalnum() else '_%02x' % b
        for b in executor_id.encode()) or '_')


def executor_config(state_dir):
    return 'runtime: docker\nhost: %s\nstate_dir: %s\nstop_timeout: 2s\n' % (DOCKER_HOST,
                                                                              state_dir)


def job(script=None, execution_id=None, cmd=None, **params):
    """A request running `sh -c script` (or cmd) in the test image."""
    eid = execution_id or unique('e')
    p = {'image': IMAGE}
    if script is not None:
        p['entrypoint'] = ['/bin/sh', '-c']
        p['cmd'] = [script]
    if cmd is not None:
        p['cmd'] = cmd
    p.update(params)
    return eid, json.dumps({'job_id': 'j-' + eid, 'execution_id': eid,
                            'engine_spec': {'type': 'docker', 'params': p}})


def read_frames(fd, timeout):
    """Reads a framed log fd to EOF (deadline), returns (stdout, stderr)."""
    out = {1: b'', 2: b''}
    buf = b''
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise AssertionError('log stream did not reach EOF within %ds' % timeout)
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 8:
            size = int.from_bytes(buf[4:8], 'big')
            if len(buf) < 8 + size:
                break
            out[buf[0]] = out.get(buf[0], b'') + buf[8:8 + size]
            buf = buf[8 + size:]
    if buf:
        raise AssertionError('log stream ended inside a frame: %r' % buf[:16])
    return out[1], out[2]


def read_all(fd, timeout):
    data = b''
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise AssertionError('stream did not reach EOF within %ds' % timeout)
        chunk = os.read(fd, 65536)
        if not chunk:
            return data
        data += chunk


class AsyncReply:
    """Collects the reply of a call issued with reply_handler/error_handler."""

    def __init__(self):
        self.done = False
        self.value = None
        self.error = None
        self.at = None

    def ok(self, *args):
        self.value = args[0] if len(args) == 1 else args
        self.done = True
        self.at = time.monotonic()

    def fail(self, e):
        self.error = e
        self.done = True
        self.at = time.monotonic()

    def handlers(self):
        return {'reply_handler': self.ok, 'error_handler': self.fail}


def requires_engine(cls):
    return unittest.skipUnless(engine_available(), 'no engine answers at ' + DOCKER_HOST)(cls)


class HostTestCase(unittest.TestCase):
    """One private bus and dms-host per class; self.ex is an executor."""

    host_args = ()
    host_env = None  # more environment for dms-host

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(PLUGIN):
            raise AssertionError('the plugin is not built: ' + PLUGIN)
        cls.state_dir = tempfile.mkdtemp(prefix='dms-state-')
        cls.bus = PrivateBus()
        try:
            cls.host = Host(cls.bus, cls.host_args, env=cls.host_env)
        except Exception:
            teardown(bus=cls.bus, dirs=[cls.state_dir])
            raise
        cls.conn = cls.bus.connect()
        cls.manager = dbus.Interface(cls.conn.get_object(BUS_NAME, MANAGER_PATH), MANAGER_IFACE)
        cls.executor_id = unique('t')
        cls.config = executor_config(cls.state_dir)
        cls.ex_path = cls.manager.NewExecutor(cls.executor_id, cls.config, timeout=CALL_TIMEOUT)
        cls.ex_obj = cls.conn.get_object(BUS_NAME, cls.ex_path)
        cls.ex = dbus.Interface(cls.ex_obj, EXECUTOR_IFACE)

    @classmethod
    def tearDownClass(cls):
        teardown(conn=cls.conn, host=cls.host, bus=cls.bus,
                 executors=[(cls.ex, cls.manager, cls.executor_id)], dirs=[cls.state_dir])

    def assertDBusError(self, name, fn, *args, **kw):
        """Calls fn and checks it fails with D-Bus error `name`; returns the message."""
        kw.setdefault('timeout', CALL_TIMEOUT)
        with self.assertRaises(dbus.DBusException) as cm:
            fn(*args, **kw)
        self.assertEqual(cm.exception.get_dbus_name(), name,
                         'wrong error: %s: %s' % (cm.exception.get_dbus_name(),
                                                  cm.exception.get_dbus_message()))
        return cm.exception.get_dbus_message()

    def run_job(self, script, **kw):
        eid, req = job(script, **kw)
        return eid, json.loads(self.ex.Run(req, timeout=CALL_TIMEOUT))


# --- a private engine, for tests that stop, kill or break it ------------------
# (added for test_crash.py and test_engine_faults.py: the shared engine under
# /tmp/dms-run must never be stopped by a test, so these tests start their own
# dockerd under /tmp/dms-run-faults/<name> with scripts/engines.sh and stop it
# by pid.)

FAULTS_RUN = os.environ.get('DMS_FAULTS_RUN', '/tmp/dms-run-faults')


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is as good as dead (its parent has not reaped it yet).
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def wait_pid_exit(pid, timeout, what):
    """Waits for a process that is not our child to exit (pidfd: an event,
    no polling); fails after timeout. A zombie counts as exited."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        deadline = time.monotonic() + timeout
        while pid_alive(pid):  # a zombie is readable too, and not alive
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError('timed out after %.0fs waiting for %s' % (timeout, what))
            select.select([fd], [], [], left)
    finally:
        os.close(fd)


def poll_until(predicate, timeout, what, interval=0.05):
    """Polls predicate (no main loop needed) until true; fails after timeout.
    Returns the predicate's last (true) value. Only for conditions that have
    no event to wait on (a file a job writes, /proc counts, a socket that
    starts answering)."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError('timed out after %.0fs waiting for %s' % (timeout, what))
        time.sleep(interval)


class EngineAPI:
    """Minimal Docker Engine API client over a unix socket (HTTP/1.0), to
    look at and tamper with the engine from outside the executor."""

    def __init__(self, sock):
        self.sock = sock

    def request(self, method, path, body=None, timeout=30):
        data = json.dumps(body).encode() if body is not None else b''
        head = '%s %s HTTP/1.0\r\nHost: d\r\n' % (method, path)
        if body is not None:
            head += 'Content-Type: application/json\r\n'
        head += 'Content-Length: %d\r\n\r\n' % len(data)
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(timeout)
            s.connect(self.sock)
            s.sendall(head.encode() + data)
            resp = b''
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                resp += chunk
        header, _, payload = resp.partition(b'\r\n\r\n')
        status = int(header.split(b' ', 2)[1])
        if b'transfer-encoding: chunked' in header.lower():
            payload = _unchunk(payload)
        return status, payload

    def json(self, method, path, body=None):
        status, payload = self.request(method, path, body)
        return status, (json.loads(payload) if payload.strip() else None)

    def ping(self):
        try:
            return self.request('GET', '/_ping', timeout=5)[1] == b'OK'
        except OSError:
            return False

    def containers(self, label):
        """All containers (any state) carrying label 'k=v'."""
        from urllib.parse import quote
        filters = quote(json.dumps({'label': [label]}))
        status, body = self.json('GET', '/containers/json?all=1&filters=' + filters)
        if status != 200:
            raise AssertionError('container list: %d %r' % (status, body))
        return body

    def inspect(self, ident):
        status, body = self.json('GET', '/containers/%s/json' % ident)
        return body if status == 200 else None

    # Objects of each kind, by the engine API's paths: made, looked up and
    # removed behind the executor's back (test_sweep.py, test_dbus_api.py).
    _PATHS = {'container': ('/containers/%s/json', '/containers/%s?force=1'),
              'network': ('/networks/%s', '/networks/%s'),
              'volume': ('/volumes/%s', '/volumes/%s?force=1')}

    def create(self, kind, labels, name=None):
        """A container (of IMAGE, running `true`, not started), network
        (internal) or volume with `labels` ({k: v}); returns its id (a
        volume's name)."""
        from urllib.parse import quote
        name = name or unique('dms-test-' + kind)
        if kind == 'container':
            path, body = '/containers/create?name=' + quote(name), {
                'Image': IMAGE, 'Cmd': ['true'], 'Labels': labels}
        elif kind == 'network':
            path, body = '/networks/create', {'Name': name, 'Internal': True, 'Labels': labels}
        else:
            path, body = '/volumes/create', {'Name': name, 'Labels': labels}
        status, answer = self.json('POST', path, body)
        if status != 201:
            raise AssertionError('create %s %s: HTTP %d %r' % (kind, name, status, answer))
        return name if kind == 'volume' else answer['Id']

    def exists(self, kind, ident):
        return self.request('GET', self._PATHS[kind][0] % ident)[0] == 200

    def remove(self, kind, ident):
        self.request('DELETE', self._PATHS[kind][1] % ident)

    def objects(self, kind, label):
        """Ids (volumes: names) of the containers (any state), networks or
        volumes carrying label 'k=v'."""
        from urllib.parse import quote
        filters = quote(json.dumps({'label': [label]}))
        path = {'container': '/containers/json?all=1&filters=',
                'network': '/networks?filters=', 'volume': '/volumes?filters='}[kind]
        status, body = self.json('GET', path + filters)
        if status != 200:
            raise AssertionError('%s list: HTTP %d %r' % (kind, status, body))
        if kind == 'volume':
            return [v['Name'] for v in body.get('Volumes') or []]
        return [o['Id'] for o in body]

    def wait_exit(self, ident, timeout):
        """Blocks on the engine's /wait until the container is not running;
        returns its exit code."""
        status, body = self.request('POST', '/containers/%s/wait?condition=not-running' % ident,
                                    timeout=timeout)
        if status != 200:
            raise AssertionError('container wait %s: %d %r' % (ident, status, body))
        return json.loads(body)['StatusCode']

    def wait_event(self, since, timeout, **filters):
        """The first engine event since `since` (time.time() seconds; the
        engine runs on this machine) matching filters (e.g. container=[id],
        event=['destroy']), read as it arrives from /events (HTTP/1.0: the
        body is raw newline-delimited JSON); None when none came in time."""
        from urllib.parse import quote
        deadline = time.monotonic() + timeout
        path = '/events?since=%d&filters=%s' % (int(since) - 1, quote(json.dumps(filters)))
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(timeout)
            s.connect(self.sock)
            s.sendall(('GET %s HTTP/1.0\r\nHost: d\r\n\r\n' % path).encode())
            buf = b''
            head = None
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([s], [], [], left)[0]:
                    return None
                chunk = s.recv(65536)
                if not chunk:
                    return None
                buf += chunk
                if head is None:
                    if b'\r\n\r\n' not in buf:
                        continue
                    head, _, buf = buf.partition(b'\r\n\r\n')
                    status = int(head.split(b' ', 2)[1])
                    if status != 200:
                        raise AssertionError('events: %d %r' % (status, buf))
                while b'\n' in buf:
                    line, _, buf = buf.partition(b'\n')
                    if line.strip():
                        return json.loads(line)


def _unchunk(data):
    out = b''
    while data:
        size_line, _, rest = data.partition(b'\r\n')
        size = int(size_line.split(b';')[0], 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2:]
    return out


class PrivateEngine:
    """A dockerd of this test file's own (scripts/engines.sh with DMS_RUN set
    to FAULTS_RUN/<name>), with the test image imported. stop() and kill()
    act on its pid (from its pid file), with deadlines."""

    def __init__(self, name):
        self.run = os.path.join(FAULTS_RUN, name)
        self.sock_path = os.path.join(self.run, 'docker.sock')
        self.host = 'unix://' + self.sock_path
        self.api = EngineAPI(self.sock_path)
        self.pid = None
        self._procs = []  # dockerds started by restart(): our children

    def _remove_stale_pidfiles(self):
        # dockerd refuses to start over the pid file of a killed one, and
        # takes a containerd pid file for a live containerd; the script and
        # dockerd check them with kill -0, which a zombie passes (PID 1 here
        # does not always reap), so stale ones are removed first.
        for pidfile in (os.path.join(self.run, 'docker.pid'),
                        os.path.join(self.run, 'docker-exec', 'containerd', 'containerd.pid')):
            try:
                with open(pidfile) as f:
                    if not pid_alive(int(f.read().strip())):
                        os.unlink(pidfile)
            except (OSError, ValueError):
                pass

    def start(self, timeout=120):
        """A fresh dockerd (engines.sh: empty state) with the test image."""
        self._remove_stale_pidfiles()
        env = dict(os.environ, DMS_RUN=self.run)
        r = subprocess.run(['bash', os.path.join(SOURCE_DIR, 'scripts', 'engines.sh'),
                            'start', 'docker'], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError('private dockerd did not start:\n' + r.stderr.decode())
        with open(os.path.join(self.run, 'docker.pid')) as f:
            self.pid = int(f.read().strip())
        if not self.api.ping():  # engines.sh waited for it
            raise AssertionError('private dockerd at %s does not answer' % self.sock_path)

    def restart(self, timeout=120):
        """Starts dockerd again on the state it left (engines.sh would wipe
        it: it starts engines that are not running from empty state), as
        after a crash or a stop: this dockerd has no live-restore, so it
        kills the containers it finds running at its start."""
        self._remove_stale_pidfiles()
        log = open(os.path.join(self.run, 'dockerd.log'), 'ab')
        with log:
            proc = subprocess.Popen(
                ['dockerd', '--host', self.host,
                 '--data-root', os.path.join(self.run, 'docker-data'),
                 '--exec-root', os.path.join(self.run, 'docker-exec'),
                 '--pidfile', os.path.join(self.run, 'docker.pid'),
                 '--iptables=false', '--ip6tables=false', '--bridge=none',
                 '--storage-driver=vfs'],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        self.pid = proc.pid
        self._procs.append(proc)  # reaped in stop()/kill()
        poll_until(lambda: self.api.ping() or proc.poll() is not None, timeout,
                   'dockerd at %s to answer after a restart' % self.sock_path)
        if proc.poll() is not None:
            raise AssertionError('dockerd exited with %d at its restart; see %s/dockerd.log' %
                                 (proc.returncode, self.run))

    def alive(self):
        return self.pid is not None and pid_alive(self.pid)

    def _signal_and_wait(self, sig, timeout):
        if not self.alive():
            return
        os.kill(self.pid, sig)
        wait_pid_exit(self.pid, timeout, 'dockerd %d to exit after signal %d' % (self.pid, sig))
        for p in self._procs:
            p.poll()  # reap

    def stop(self, timeout=60):
        """SIGTERM: dockerd stops its containers (SIGTERM, then SIGKILL
        after their stop timeout) and exits."""
        try:
            self._signal_and_wait(signal.SIGTERM, timeout)
        except AssertionError:
            self._signal_and_wait(signal.SIGKILL, 30)
            raise

    def kill(self, timeout=30):
        """SIGKILL: dockerd dies, and its containerd with it (or not: a
        containerd that lives on is reused by the next dockerd); the
        containers' shims and processes live on until a new dockerd (without
        live-restore) kills them at its start."""
        self._signal_and_wait(signal.SIGKILL, timeout)

    def remove_labelled(self, label):
        for c in self.api.containers(label):
            self.api.request('DELETE', '/containers/%s?force=1&v=1' % c['Id'])


def private_config(engine, state_dir, extra=''):
    """An executor config on a PrivateEngine."""
    return 'runtime: docker\nhost: %s\nstate_dir: %s\nstop_timeout: 2s\n%s' % (
        engine.host, state_dir, extra)


def private_job(script, execution_id=None, **top):
    """Like job(), plus top-level request members (inputs, timeout...)."""
    eid, req = job(script, execution_id=execution_id)
    doc = json.loads(req)
    doc.update(top)
    return eid, json.dumps(doc)


# --- executors on either engine (test_images.py, test_misbehave.py) ----------

RUN = os.environ.get('DMS_RUN', '/tmp/dms-run')
PODMAN_HOST = os.environ.get('DMS_PODMAN_HOST', 'unix://%s/podman.sock' % RUN)
ENGINE_HOSTS = {'docker': DOCKER_HOST, 'podman': PODMAN_HOST}


def engine_api(runtime):
    return EngineAPI(ENGINE_HOSTS[runtime][len('unix://'):])


def host_fds(pid):
    """{fd: target} of a process."""
    d = '/proc/%d/fd' % pid
    out = {}
    for fd in os.listdir(d):
        try:
            out[int(fd)] = os.readlink(os.path.join(d, fd))
        except OSError:
            pass
    return out


class EngineHostTestCase(HostTestCase):
    """HostTestCase whose executor runs on `runtime` (docker or podman)."""

    runtime = 'docker'
    extra_config = ''

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if cls.runtime != 'docker' or cls.extra_config:
            # The class executor, on the engine this class is about.
            cls.manager.RemoveExecutor(cls.executor_id, timeout=CALL_TIMEOUT)
            cls.executor_id = unique('t-' + cls.runtime)
            cls.config = cls.engine_config()
            cls.ex_path = cls.manager.NewExecutor(cls.executor_id, cls.config,
                                                  timeout=CALL_TIMEOUT)
            cls.ex_obj = cls.conn.get_object(BUS_NAME, cls.ex_path)
            cls.ex = dbus.Interface(cls.ex_obj, EXECUTOR_IFACE)

    @classmethod
    def engine_config(cls, extra=None):
        return 'runtime: %s\nhost: %s\nstate_dir: %s\nstop_timeout: 2s\n%s' % (
            cls.runtime, ENGINE_HOSTS[cls.runtime], cls.state_dir,
            cls.extra_config if extra is None else extra)

    def new_executor(self, extra):
        """Another executor on this class's engine, removed at cleanup."""
        eid = unique('x-' + self.runtime)
        path = self.manager.NewExecutor(eid, self.engine_config(extra), timeout=CALL_TIMEOUT)
        self.addCleanup(self.manager.RemoveExecutor, eid, timeout=CALL_TIMEOUT)
        return dbus.Interface(self.conn.get_object(BUS_NAME, path), EXECUTOR_IFACE)

    def assertNoContainers(self, execution_id):
        left = engine_api(self.runtime).containers('org.dms.execution=' + execution_id)
        self.assertEqual(left, [], 'containers left for %s: %r' % (execution_id, left))
