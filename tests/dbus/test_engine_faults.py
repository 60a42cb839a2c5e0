"""test_engine_faults.py — the engine fails under a running dms-host, against a
private dockerd (never the shared one):

- dockerd killed (SIGKILL) or stopped (SIGTERM) during a Wait and a log
  follow: callers keep waiting or get org.dms.Error.RuntimeUnavailable,
  never a false result; IsInstalled says false and Start fails with
  RuntimeUnavailable while it is down; once dockerd is back the executor
  reconnects (events resumed, relist) and finishes the jobs with their real
  outcome. dockerd here runs without live-restore, so it kills running
  containers when it stops (SIGTERM to the job, which exits 143 here) or
  when it starts again after a SIGKILL (SIGKILL: 137): the honest result
  is that killed exit, never a success and never "lost". A follow stream
  opened before the fault ends only when the job ends, with the job's whole
  output (the same bytes as the result), no gap, no duplicate;
- the engine socket missing at Start: RuntimeUnavailable naming the socket;
- a job killed from outside (docker kill): exit 137, signal 9, not OOM;
- an engine 500 after the container was actually created (a fault proxy
  in front of the engine): no orphan container is left.

(Permission denied on the socket cannot be produced as root, which these
tests run as; see docs/robustness.md.)
"""
import json
import os
import re
import select
import socket
import sys
import tempfile
import threading
import time
import unittest

import dmshost
from dmshost import (BUS_NAME, CALL_TIMEOUT, EXECUTOR_IFACE, MANAGER_IFACE, MANAGER_PATH,
                     AsyncReply, dbus, wait_until)

RU = 'org.dms.Error.RuntimeUnavailable'

TICKS = 'i=0; while true; do echo tick $i; i=$((i+1)); usleep 100000; done'
# Exits on SIGTERM (PID 1 in a container ignores it unless it traps it).
TICKS_TERM = ("trap 'echo got-term; exit 143' TERM; "
              'i=0; while true; do echo tick $i; i=$((i+1)); usleep 100000; done')


class FaultProxy:
    """An HTTP proxy on a unix socket in front of the engine that forwards
    everything and, when armed, answers one container create with a 500
    after the engine really created the container (the reply is lost on
    the way, as when the engine fails late or the connection drops).

    Requests are parsed (Content-Length or chunked bodies) so that
    keep-alive connections work; responses are relayed by their framing
    (Content-Length, chunked — endless for /events and log follows — or
    until close for hijacked streams)."""

    def __init__(self, upstream, path):
        self.upstream, self.path = upstream, path
        self.armed = threading.Event()
        self.injected = []
        if os.path.exists(path):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        self.sock.listen(64)
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.closing = True
        self.sock.close()

    def _accept(self):
        while not self.closing:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    @staticmethod
    def _read_head(f):
        head = b''
        while not head.endswith(b'\r\n\r\n'):
            line = f.readline()
            if not line:
                return None
            head += line
        return head

    @staticmethod
    def _headers(head):
        h = {}
        for line in head.split(b'\r\n')[1:]:
            k, _, v = line.partition(b':')
            h[k.strip().lower()] = v.strip()
        return h

    @staticmethod
    def _read_body(f, h):
        """Yields the body's raw bytes (framing included)."""
        if h.get(b'transfer-encoding', b'').lower() == b'chunked':
            while True:
                size_line = f.readline()
                if not size_line:
                    return
                yield size_line
                size = int(size_line.split(b';')[0], 16)
                chunk = f.read(size + 2)
                yield chunk
                if size == 0 or not chunk:
                    return
        n = int(h.get(b'content-length', b'0'))
        if n:
            yield f.read(n)

    def _serve(self, c):
        up = socket.socket(socket.AF_UNIX)
        try:
            up.connect(self.upstream)
            cf, uf = c.makefile('rb'), up.makefile('rb')
            while True:
                head = self._read_head(cf)
                if head is None:
                    return
                req_line = head.split(b'\r\n', 1)[0]
                body = b''.join(self._read_body(cf, self._headers(head)))
                up.sendall(head + body)
                rhead = self._read_head(uf)
                if rhead is None:
                    return
                rh = self._headers(rhead)
                status = int(rhead.split(b' ', 2)[1])
                create = re.match(rb'POST (/v[0-9.]+)?/containers/create', req_line)
                if create and self.armed.is_set() and status == 201:
                    self.armed.clear()
                    rbody = b''.join(self._read_body(uf, rh))
                    self.injected.append(json.loads(_dechunk(rbody, rh))['Id'])
                    msg = b'{"message":"injected: engine failed after creating the container"}'
                    c.sendall(b'HTTP/1.1 500 Internal Server Error\r\n'
                              b'Content-Type: application/json\r\n'
                              b'Content-Length: %d\r\n\r\n' % len(msg) + msg)
                    continue
                c.sendall(rhead)
                if status in (101, 204, 304) or req_line.startswith(b'HEAD '):
                    if status == 101:
                        self._pipe(c, up)
                        return
                    continue
                if b'content-length' in rh or b'transfer-encoding' in rh:
                    for part in self._read_body(uf, rh):
                        c.sendall(part)
                else:
                    self._pipe(c, up)  # until close
                    return
        except OSError:
            pass
        finally:
            c.close()
            up.close()

    @staticmethod
    def _pipe(a, b):
        socks = [a, b]
        while True:
            r, _, _ = select.select(socks, [], [])
            for s in r:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)


def _dechunk(body, headers):
    if headers.get(b'transfer-encoding', b'').lower() != b'chunked':
        return body
    out = b''
    while body:
        size_line, _, body = body.partition(b'\r\n')
        size = int(size_line.split(b';')[0], 16)
        if size == 0:
            break
        out += body[:size]
        body = body[size + 2:]
    return out


class Follower(threading.Thread):
    """Reads a framed log fd to EOF in the background (deadline)."""

    def __init__(self, fd, timeout):
        super().__init__(daemon=True)
        self.fd, self.timeout = fd, timeout
        self.data = b''
        self.eof_at = None
        self.error = None
        self.cond = threading.Condition()

    def wait_for(self, predicate, timeout, what):
        """Waits (deadline) until predicate(self) holds; woken at every read."""
        with self.cond:
            if not self.cond.wait_for(lambda: predicate(self) or not self.is_alive(), timeout) \
                    or not predicate(self):
                raise AssertionError('timed out after %ds waiting for %s (%d bytes read, %s)' %
                                     (timeout, what, len(self.data), self.error))

    def run(self):
        deadline = time.monotonic() + self.timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.error = 'no EOF within %ds' % self.timeout
                    return
                if not select.select([self.fd], [], [], min(left, 1))[0]:
                    continue
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    self.eof_at = time.monotonic()
                    return
                with self.cond:
                    self.data += chunk
                    self.cond.notify_all()
        except OSError as e:
            self.error = str(e)
        finally:
            os.close(self.fd)
            with self.cond:
                self.cond.notify_all()

    def stdout(self):
        out, buf = b'', self.data
        while len(buf) >= 8:
            size = int.from_bytes(buf[4:8], 'big')
            if buf[0] == 1:
                out += buf[8:8 + size]
            buf = buf[8 + size:]
        return out.decode(errors='replace')


def ticks_of(text):
    return [int(l.split()[1]) for l in text.splitlines() if l.startswith('tick ')]


class EngineFaults(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(dmshost.PLUGIN):
            raise AssertionError('the plugin is not built: ' + dmshost.PLUGIN)
        cls.engine = dmshost.PrivateEngine('faults')
        cls.engine.start()
        cls.state_dir = tempfile.mkdtemp(prefix='dms-faults-state-')
        cls.bus = dmshost.PrivateBus()
        try:
            cls.host = dmshost.Host(cls.bus, env={'DOCKER_HOST': cls.engine.host})
        except Exception:
            dmshost.teardown(bus=cls.bus, engine=cls.engine, dirs=[cls.state_dir])
            raise
        cls.conn = cls.bus.connect()
        cls.manager = dbus.Interface(cls.conn.get_object(BUS_NAME, MANAGER_PATH), MANAGER_IFACE)
        cls.executor_id = dmshost.unique('faults')
        path = cls.manager.NewExecutor(cls.executor_id,
                                       dmshost.private_config(cls.engine, cls.state_dir),
                                       timeout=CALL_TIMEOUT)
        cls.ex = dbus.Interface(cls.conn.get_object(BUS_NAME, path), EXECUTOR_IFACE)

    @classmethod
    def tearDownClass(cls):
        # Cleanup needs the engine: a test may have left it stopped.
        try:
            if not cls.engine.alive():
                cls.engine.start()
        finally:
            dmshost.teardown(conn=cls.conn, host=cls.host, bus=cls.bus, engine=cls.engine,
                             executors=[(cls.ex, cls.manager, cls.executor_id)],
                             dirs=[cls.state_dir])

    def setUp(self):
        if not self.engine.alive():
            self.engine.start()

    def assertDBusError(self, name, fn, *args, **kw):
        kw.setdefault('timeout', CALL_TIMEOUT)
        with self.assertRaises(dbus.DBusException) as cm:
            fn(*args, **kw)
        self.assertEqual(cm.exception.get_dbus_name(), name, cm.exception.get_dbus_message())
        return cm.exception.get_dbus_message()

    def assertHonest(self, reply, allowed_exits, what):
        """A Wait reply during or after a fault: RuntimeUnavailable, or a
        result with the job's real (killed) exit — never anything else."""
        if reply.error is not None:
            self.assertEqual(reply.error.get_dbus_name(), RU,
                             '%s: %s' % (what, reply.error.get_dbus_message()))
            return None
        res = json.loads(reply.value)
        self.assertIn(res['exit_code'], allowed_exits, '%s: a false result: %r' % (what, res))
        return res

    def start_with_follower(self, script):
        eid, req = dmshost.job(script)
        self.ex.Start(req, timeout=CALL_TIMEOUT)
        wait = AsyncReply()
        self.ex.Wait(eid, timeout=CALL_TIMEOUT * 5, **wait.handlers())
        fd = self.ex.GetLogStream(json.dumps({'execution_id': eid, 'follow': True}),
                                  timeout=CALL_TIMEOUT).take()
        follower = Follower(fd, 600)
        follower.start()
        follower.wait_for(lambda f: len(ticks_of(f.stdout())) >= 20, 60,
                          '20 ticks on the follow stream')
        return eid, wait, follower

    def while_down(self, eid, wait, allowed_exits):
        """What the executor says while the engine is down."""
        self.assertFalse(self.engine.api.ping(), 'self.engine.api.ping()')
        self.assertFalse(self.ex.IsInstalled(timeout=CALL_TIMEOUT), 'self.ex.IsInstalled(timeout=CALL_TIMEOUT)')
        _, req = dmshost.job('echo never')
        msg = self.assertDBusError(RU, self.ex.Start, req)
        self.assertIn(self.engine.sock_path, msg)
        # A Wait issued now: pending, RuntimeUnavailable, or the honest exit.
        late = AsyncReply()
        self.ex.Wait(eid, timeout=CALL_TIMEOUT * 5, **late.handlers())
        self.assertTrue(self.ex.List(timeout=CALL_TIMEOUT) is not None, 'self.ex.List(timeout=CALL_TIMEOUT) is not None')  # still serving
        if wait.done:
            self.assertHonest(wait, allowed_exits, 'Wait answered while the engine was down')
        return late

    def after_restart(self, eid, wait, late, follower, allowed_exits):
        wait_until(lambda: wait.done and late.done, 120, 'the Waits to be answered')
        results = [r for r in (self.assertHonest(wait, allowed_exits, 'first Wait'),
                               self.assertHonest(late, allowed_exits, 'Wait while down'))
                   if r is not None]
        # Whatever was answered during the fault, Wait now gives the result.
        final = json.loads(self.ex.Wait(eid, timeout=CALL_TIMEOUT))
        self.assertIn(final['exit_code'], allowed_exits, final)
        for r in results:
            self.assertEqual(r, final)
        self.assertFalse(final['oom_killed'], final)
        self.assertNotIn('vanished', final.get('error_msg') or '', final)
        # The follow stream: EOF only now, and the whole output.
        follower.join(120)
        self.assertFalse(follower.is_alive(), 'the follow stream never reached EOF')
        self.assertIsNone(follower.error, follower.error)
        ticks = ticks_of(follower.stdout())
        self.assertEqual(ticks, list(range(len(ticks))),
                         'gap or duplicate in the followed log')
        self.assertEqual(follower.stdout(), final['stdout'],
                         'the follow stream and the result differ (%d and %d bytes)' %
                         (len(follower.stdout()), len(final['stdout'])))
        # The executor is connected again: a new job runs normally.
        self.assertTrue(self.ex.IsInstalled(timeout=CALL_TIMEOUT), 'self.ex.IsInstalled(timeout=CALL_TIMEOUT)')
        _, req = dmshost.job('echo back; exit 4')
        res = json.loads(self.ex.Run(req, timeout=CALL_TIMEOUT))
        self.assertEqual((res['exit_code'], res['stdout']), (4, 'back\n'), res)
        return final

    # --- the tests -------------------------------------------------------

    def test_a_socket_missing_at_start(self):
        missing = os.path.join(self.engine.run, 'no-such-engine.sock')
        eid = dmshost.unique('nosock')
        path = self.manager.NewExecutor(
            eid, 'runtime: docker\nhost: unix://%s\nstate_dir: %s\n' % (missing, self.state_dir),
            timeout=CALL_TIMEOUT)
        ex = dbus.Interface(self.conn.get_object(BUS_NAME, path), EXECUTOR_IFACE)
        try:
            self.assertFalse(ex.IsInstalled(timeout=CALL_TIMEOUT), 'ex.IsInstalled(timeout=CALL_TIMEOUT)')
            _, req = dmshost.job('echo never')
            msg = self.assertDBusError(RU, ex.Start, req)
            self.assertIn(missing, msg)
            msg = self.assertDBusError(RU, ex.Run, req.replace('"execution_id": "',
                                                               '"execution_id": "r'))
            self.assertIn(missing, msg)
        finally:
            self.manager.RemoveExecutor(eid, timeout=CALL_TIMEOUT)

    def test_b_engine_killed_during_wait_and_follow(self):
        eid, wait, follower = self.start_with_follower(TICKS)
        t0 = time.monotonic()
        self.engine.kill()
        # SIGKILL leaves the container running; the next dockerd kills it.
        late = self.while_down(eid, wait, (137,))
        self.assertFalse(wait.done and wait.error is None,
                         'Wait answered with a result while the job still ran: %r' % wait.value)
        self.assertIsNone(follower.eof_at, 'the follow stream ended while the job still ran')
        self.engine.restart()
        final = self.after_restart(eid, wait, late, follower, (137,))
        self.assertEqual(final['signal'], 9, final)
        print('\nengine_faults: SIGKILL: engine down %.1fs, %d ticks followed, exit %d' %
              (time.monotonic() - t0, len(ticks_of(follower.stdout())), final['exit_code']),
              file=sys.stderr)

    def test_c_engine_stopped_during_wait_and_follow(self):
        eid, wait, follower = self.start_with_follower(TICKS_TERM)
        t0 = time.monotonic()
        self.engine.stop()
        # dockerd's shutdown sent SIGTERM to the job, which exited 143.
        late = self.while_down(eid, wait, (143,))
        self.engine.restart()
        final = self.after_restart(eid, wait, late, follower, (143,))
        self.assertTrue(final['stdout'].endswith('got-term\n'), final['stdout'][-100:])
        print('\nengine_faults: SIGTERM: engine down %.1fs, %d ticks followed, exit %d' %
              (time.monotonic() - t0, len(ticks_of(follower.stdout())), final['exit_code']),
              file=sys.stderr)

    def test_d_job_killed_from_outside(self):
        """docker kill on the job's container: exit 137, signal 9, not OOM,
        not cancelled, output up to the kill kept."""
        eid, wait, follower = self.start_with_follower(TICKS)
        cs = self.engine.api.containers('org.dms.execution=' + eid)
        self.assertEqual(len(cs), 1, cs)
        status, _ = self.engine.api.request('POST', '/containers/%s/kill' % cs[0]['Id'])
        self.assertEqual(status, 204)
        wait_until(lambda: wait.done, 60, 'Wait to be answered after docker kill')
        self.assertIsNone(wait.error, wait.error)
        res = json.loads(wait.value)
        self.assertEqual((res['exit_code'], res['signal'], res['oom_killed'], res['cancelled']),
                         (137, 9, False, False), res)
        follower.join(60)
        self.assertFalse(follower.is_alive(), 'the follow stream never reached EOF')
        self.assertEqual(follower.stdout(), res['stdout'])
        self.assertGreaterEqual(len(ticks_of(res['stdout'])), 20, res)

    def test_e_engine_500_after_create_leaves_no_orphan(self):
        """The engine created the container but the executor got a 500:
        Start fails with the engine's error, no container of that
        execution is left on the engine once Start has answered, and the
        same execution id can then be started for real (the name, the
        idempotency key, is free again)."""
        proxy = FaultProxy(self.engine.sock_path, os.path.join(self.engine.run, 'proxy.sock'))
        eid = dmshost.unique('e500')
        path = self.manager.NewExecutor(
            eid, dmshost.private_config(self.engine, self.state_dir).replace(
                self.engine.host, 'unix://' + proxy.path), timeout=CALL_TIMEOUT)
        ex = dbus.Interface(self.conn.get_object(BUS_NAME, path), EXECUTOR_IFACE)
        try:
            xid, req = dmshost.job('echo ran')
            proxy.armed.set()
            with self.assertRaises(dbus.DBusException) as cm:
                ex.Start(req, timeout=CALL_TIMEOUT)
            self.assertIn('injected', cm.exception.get_dbus_message())
            self.assertEqual(len(proxy.injected), 1, 'no create went through the proxy')
            created = proxy.injected[0]
            left = self.engine.api.containers('org.dms.execution=' + xid)
            self.assertEqual(left, [], 'orphans after Start failed (the injected one is %s): %s'
                             % (created[:12], [(c['Id'][:12], c['State']) for c in left]))
            res = json.loads(ex.Run(req, timeout=CALL_TIMEOUT))
            self.assertEqual((res['exit_code'], res['stdout']), (0, 'ran\n'), res)
        finally:
            try:
                ex.Cleanup(timeout=CALL_TIMEOUT)
            finally:
                self.manager.RemoveExecutor(eid, timeout=CALL_TIMEOUT)
                proxy.close()
                self.engine.remove_labelled('org.dms.executor=' + eid)


if __name__ == '__main__':
    unittest.main()
