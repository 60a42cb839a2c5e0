"""test_crash.py — dms-host killed with SIGKILL while jobs run, then started
again, against a private dockerd (never the shared one): the executor
created again with the same id recovers its previous life from its state
dir and the engine (docs/architecture.md, "Recovery"):

- a job still running is re-attached: Wait answers when it ends, and a
  follow GetLogStream shows its whole output, continuous, no gap, no
  duplicate;
- a job that exited while the host was down is harvested once, with its
  real exit code and output, and never restarted (each job appends a line
  to a bind-mounted host file every time it starts);
- a job whose container was deleted while the host was down is reported
  lost (exit_code -1, "vanished");
- a job that had finished before the crash keeps its result;
- a second crash changes none of that.

Every wait has a deadline; the engine, bus and hosts are this file's own
and are stopped by pid at the end.
"""
import json
import os
import signal
import sys
import tempfile
import time
import unittest

import dmshost
from dmshost import (BUS_NAME, CALL_TIMEOUT, EXECUTOR_IFACE, MANAGER_IFACE, MANAGER_PATH,
                     AsyncReply, dbus, poll_until, wait_until)

# The job scripts poll a control file in the bind-mounted dir: that is how
# the test tells a job to end. Each appends to <name>.runs when it starts.
RUNNING = ('echo run >> /ctl/{n}.runs; i=0; '
           'while [ ! -e /ctl/{n}.go ]; do echo line $i; i=$((i+1)); usleep 50000; done; '
           'echo end; exit 3')
EXITS_WHILE_DOWN = ('echo run >> /ctl/{n}.runs; echo out-x; echo err-x >&2; '
                    'while [ ! -e /ctl/{n}.go ]; do usleep 50000; done; exit 7')
LOST = 'echo run >> /ctl/{n}.runs; while true; do usleep 200000; done'
FINISHED = 'echo run >> /ctl/{n}.runs; echo done-f; exit 5'


class HostCrash(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(dmshost.PLUGIN):
            raise AssertionError('the plugin is not built: ' + dmshost.PLUGIN)
        cls.engine = dmshost.PrivateEngine('crash')
        cls.engine.start()
        cls.state_dir = tempfile.mkdtemp(prefix='dms-crash-state-')
        cls.ctl = tempfile.mkdtemp(prefix='dms-crash-ctl-')
        os.chmod(cls.ctl, 0o777)
        cls.bus = dmshost.PrivateBus()
        cls.hosts = []
        cls.executor_id = dmshost.unique('crash')
        # The jobs bind the control directory: this suite's own policy.
        cls.config = dmshost.private_config(
            cls.engine, cls.state_dir, 'policy:\n  bind_roots: [%s]\n' % json.dumps(cls.ctl))
        cls.label = 'org.dms.executor=' + cls.executor_id

    @classmethod
    def tearDownClass(cls):
        try:
            for h in cls.hosts:
                if h.proc.poll() is None:
                    h.proc.kill()
                    h.wait_exit(30)
            try:
                cls.engine.remove_labelled(cls.label)
            except OSError:
                pass
        finally:
            dmshost.teardown(bus=cls.bus, engine=cls.engine, dirs=[cls.state_dir, cls.ctl])

    # --- helpers ---------------------------------------------------------

    def start_host(self):
        host = dmshost.Host(self.bus, env={'DOCKER_HOST': self.engine.host})
        self.hosts.append(host)
        conn = self.bus.connect()
        manager = dbus.Interface(conn.get_object(BUS_NAME, MANAGER_PATH), MANAGER_IFACE)
        path = manager.NewExecutor(self.executor_id, self.config, timeout=CALL_TIMEOUT)
        ex = dbus.Interface(conn.get_object(BUS_NAME, path), EXECUTOR_IFACE)
        return host, conn, ex

    def kill_host(self, host, conn):
        conn.close()
        host.proc.send_signal(signal.SIGKILL)
        status, log = host.wait_exit(30)
        self.assertEqual(status, -signal.SIGKILL, log)

    def job(self, name, script):
        eid = dmshost.unique(name)
        _, req = dmshost.private_job(
            script.format(n=eid), execution_id=eid,
            inputs=[{'source': self.ctl, 'target': '/ctl', 'read_only': False}])
        return eid, req

    def runs(self, eid):
        try:
            with open(os.path.join(self.ctl, eid + '.runs')) as f:
                return f.read().count('run')
        except FileNotFoundError:
            return 0

    def lines_logged(self, eid):
        """How many 'line N' records the engine has of eid's stdout."""
        c = self.container_of(eid)
        if not c:
            return 0
        status, body = self.engine.api.request('GET', '/containers/%s/logs?stdout=1' % c['Id'])
        return body.count(b'line ') if status == 200 else 0

    def release(self, eid):
        open(os.path.join(self.ctl, eid + '.go'), 'w').close()

    def container_of(self, eid):
        cs = self.engine.api.containers('org.dms.execution=' + eid)
        cs = [c for c in cs if c['Labels'].get('org.dms.executor') == self.executor_id]
        return cs[0] if cs else None

    def wait_result(self, ex, eid):
        return json.loads(ex.Wait(eid, timeout=CALL_TIMEOUT))

    # --- the test --------------------------------------------------------

    def test_kill9_host_then_recover(self):
        host, conn, ex = self.start_host()

        # Before the crash: one finished job, three live ones.
        fid, req = self.job('f', FINISHED)
        before = json.loads(ex.Run(req, timeout=CALL_TIMEOUT))
        self.assertEqual(before['exit_code'], 5, before)
        rid, req = self.job('r', RUNNING)
        ex.Start(req, timeout=CALL_TIMEOUT)
        xid, req = self.job('x', EXITS_WHILE_DOWN)
        ex.Start(req, timeout=CALL_TIMEOUT)
        lid, req = self.job('l', LOST)
        ex.Start(req, timeout=CALL_TIMEOUT)
        poll_until(lambda: all(self.runs(e) == 1 for e in (rid, xid, lid)), 60,
                   'the three jobs to run')
        # R's log must reach across the crash: some lines before it.
        poll_until(lambda: self.lines_logged(rid) > 10, 60, 'R to log more than 10 lines')

        self.kill_host(host, conn)

        # While no host runs: X exits on its own, L's container is deleted.
        x_cid = self.container_of(xid)['Id']
        self.release(xid)
        self.assertEqual(self.engine.api.wait_exit(x_cid, 60), 7)
        lost = self.container_of(lid)
        self.assertIsNotNone(lost, 'L has no container')
        status, _ = self.engine.api.request('DELETE', '/containers/%s?force=1' % lost['Id'])
        self.assertEqual(status, 204)
        self.assertIsNone(self.container_of(lid))
        self.assertEqual(self.container_of(rid)['State'], 'running')
        since = time.time()

        # A new host, the executor created again with the same id.
        finished = []
        host, conn, ex = self.start_host()
        conn.add_signal_receiver(lambda e, r: finished.append((e, r)),
                                 signal_name='ExecutionFinished',
                                 dbus_interface=EXECUTOR_IFACE)

        # X: harvested once, real exit code and output.
        x = self.wait_result(ex, xid)
        self.assertEqual(x['exit_code'], 7, x)
        self.assertEqual(x['stdout'], 'out-x\n', x)
        self.assertEqual(x['stderr'], 'err-x\n', x)
        self.assertFalse(x['cancelled'], x)
        self.assertIsNotNone(self.engine.api.wait_event(since, 60, container=[x_cid],
                                                        event=['destroy']),
                             "X's container was not removed after its harvest")

        # L: lost.
        lres = self.wait_result(ex, lid)
        self.assertEqual(lres['exit_code'], -1, lres)
        self.assertIn('vanished', lres['error_msg'], lres)

        # F: its result from before the crash.
        self.assertEqual(self.wait_result(ex, fid), before)

        # R: re-attached. Its whole output through a follow stream while it
        # still runs, then released: continuous, no gap, no duplicate.
        pending = AsyncReply()
        ex.Wait(rid, timeout=CALL_TIMEOUT, **pending.handlers())
        fd = ex.GetLogStream(json.dumps({'execution_id': rid, 'follow': True}),
                             timeout=CALL_TIMEOUT).take()
        try:
            self.assertTrue(ex.IsInstalled(timeout=CALL_TIMEOUT), 'ex.IsInstalled(timeout=CALL_TIMEOUT)')
            self.assertFalse(pending.done, 'Wait(R) answered while R runs: %r' %
                             (pending.value or pending.error))
            self.release(rid)
            out, err = dmshost.read_frames(fd, 120)
        finally:
            os.close(fd)
        wait_until(lambda: pending.done, 60, 'Wait(R) to be answered')
        self.assertIsNone(pending.error, pending.error)
        r = json.loads(pending.value)
        self.assertEqual(r['exit_code'], 3, r)
        lines = out.decode().splitlines()
        self.assertEqual(lines[-1], 'end', lines[-3:])
        numbers = [int(l.split()[1]) for l in lines[:-1]]
        self.assertEqual(numbers, list(range(len(numbers))),
                         'gap or duplicate in the followed log: %s' % _first_break(numbers))
        self.assertGreater(len(numbers), 10, lines)
        self.assertEqual(r['stdout'], out.decode(), 'result and followed log differ')
        self.assertEqual(err, b'')
        print('\ncrash: R followed across the crash: %d lines, exit %d; X exit %d; L %r'
              % (len(numbers), r['exit_code'], x['exit_code'], lres['error_msg']),
              file=sys.stderr)

        # Never restarted; X finished once on this host.
        for eid in (fid, rid, xid, lid):
            self.assertEqual(self.runs(eid), 1, '%s ran %d times' % (eid, self.runs(eid)))
        wait_until(lambda: any(e == rid for e, _ in finished), 30, 'R to be reported finished')
        self.assertLessEqual(sum(1 for e, _ in finished if e == xid), 1,
                             'X reported finished more than once: %r' % finished)

        # A second crash: nothing changes, nothing runs again.
        self.kill_host(host, conn)
        host, conn, ex = self.start_host()
        self.assertEqual(self.wait_result(ex, xid), x)
        self.assertEqual(self.wait_result(ex, rid), r)
        self.assertEqual(self.wait_result(ex, lid), lres)
        self.assertEqual(self.wait_result(ex, fid), before)
        for eid in (fid, rid, xid, lid):
            self.assertEqual(self.runs(eid), 1, '%s ran %d times' % (eid, self.runs(eid)))
        # Removal is off the critical path: the crash may have cut R's
        # (dockerd then lists it as "removing" until it is done), and this
        # host removes what its predecessor left.
        wait_until(lambda: self.engine.api.containers(self.label) == [], 60,
                   'no containers left behind')
        conn.close()
        status, log = host.stop()
        self.assertEqual(status, 0, log)
        self.assertNotIn('AddressSanitizer', log)
        self.assertNotIn('runtime error', log)


def _first_break(numbers):
    for i, n in enumerate(numbers):
        if n != i:
            return 'at index %d: %r' % (i, numbers[max(0, i - 3):i + 3])
    return 'none'


if __name__ == '__main__':
    unittest.main()
