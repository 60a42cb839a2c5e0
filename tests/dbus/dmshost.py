"""dmshost.py — shared fixture for the D-Bus tests: a private dbus-daemon and
a dms-host on it per test class, clients, deadlines, and request builders.

Why: every tests/dbus/test_*.py file drives the public surface only (the
org.dms.Executor bus API and the dmsctl binary) against a real dms-host and
the real engine named by $DMS_DOCKER_HOST. Waiting is always on an event
with a deadline (a GLib main loop with a timeout), never a fixed sleep.
"""
import json
import os
import select
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
    """A dbus-daemon of our own (session configuration), our child."""

    def __init__(self):
        self.proc = subprocess.Popen(
            ['dbus-daemon', '--session', '--nofork', '--nopidfile', '--print-address=1'],
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

    def __init__(self, bus, args=(), wait_for_name=True, env=None):
        self.bus = bus
        self.log = tempfile.NamedTemporaryFile(prefix='dms-host-', suffix='.log', delete=False)
        e = dict(os.environ)
        e['DBUS_SESSION_BUS_ADDRESS'] = bus.address
        e['DOCKER_HOST'] = DOCKER_HOST
        e.setdefault('ASAN_OPTIONS', 'detect_leaks=1')
        if env:
            e.update(env)
        self.proc = subprocess.Popen([DMS_HOST, '--session'] + list(args), env=e,
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

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(PLUGIN):
            raise AssertionError('the plugin is not built: ' + PLUGIN)
        cls.state_dir = tempfile.mkdtemp(prefix='dms-state-')
        cls.bus = PrivateBus()
        try:
            cls.host = Host(cls.bus, cls.host_args)
        except Exception:
            cls.bus.stop()
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
        try:
            try:
                cls.ex.Cleanup(timeout=CALL_TIMEOUT)
                cls.manager.RemoveExecutor(cls.executor_id, timeout=CALL_TIMEOUT)
            except dbus.DBusException:
                pass
            cls.conn.close()
        finally:
            status, log = cls.host.stop()
            cls.bus.stop()
            shutil.rmtree(cls.state_dir, ignore_errors=True)
        if status != 0 or 'AddressSanitizer' in log or 'runtime error' in log:
            raise AssertionError('dms-host ended badly (%d):\n%s' % (status, log))

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
