"""test_dbus_api.py — every org.dms.Executor1 / ExecutorManager1 method, its
error names, deferred Wait replies, signal order, fd log streaming and two
clients at once, against a real dms-host on a private bus and the real
engine ($DMS_DOCKER_HOST)."""
import json
import os
import subprocess
import sys
import time
import unittest

import dmshost
from dmshost import (BUS_NAME, CALL_TIMEOUT, EXECUTOR_IFACE, MANAGER_PATH, PROPS_IFACE,
                     AsyncReply, HostTestCase, dbus, job, read_all, read_frames, unique,
                     wait_until)

ERR = 'org.dms.Error.'


@dmshost.requires_engine
class ExecutorMethods(HostTestCase):

    def test_is_installed(self):
        self.assertIs(bool(self.ex.IsInstalled(timeout=CALL_TIMEOUT)), True)
        installed, info = self.ex.GetEngineInfo(timeout=CALL_TIMEOUT)
        self.assertTrue(installed, 'installed = %r' % (installed,))
        self.assertEqual(json.loads(info).get('runtime'), 'docker', info)

    def test_properties(self):
        props = dbus.Interface(self.ex_obj, PROPS_IFACE)
        self.assertEqual(props.Get(EXECUTOR_IFACE, 'Id'), self.executor_id)
        all_ = props.GetAll(EXECUTOR_IFACE)
        self.assertEqual(set(all_.keys()), {'Id', 'Runtime'})
        self.assertEqual(all_['Runtime'], 'docker')
        self.assertDBusError('org.freedesktop.DBus.Error.PropertyReadOnly', props.Set,
                             EXECUTOR_IFACE, 'Id', 'x')
        self.assertDBusError('org.freedesktop.DBus.Error.UnknownProperty', props.Get,
                             EXECUTOR_IFACE, 'Nope')
        self.assertDBusError('org.freedesktop.DBus.Error.UnknownInterface', props.Get,
                             'org.example.Nope', 'Id')

    def test_run_returns_result(self):
        _, res = self.run_job('echo out; echo err >&2; exit 3')
        self.assertEqual(res['exit_code'], 3, res)
        self.assertEqual(res['stdout'], 'out\n', res)
        self.assertEqual(res['stderr'], 'err\n', res)
        self.assertFalse(res['cancelled'], res)

    def test_run_without_execution_id(self):
        req = json.dumps({'job_id': 'j-noid', 'engine_spec': {
            'type': 'docker', 'params': {'image': dmshost.IMAGE, 'cmd': ['echo', 'noid']}}})
        res = json.loads(self.ex.Run(req, timeout=CALL_TIMEOUT))
        self.assertEqual(res['stdout'], 'noid\n', res)

    def test_start_then_deferred_wait(self):
        eid, req = job('sleep 1; echo done')
        self.ex.Start(req, timeout=CALL_TIMEOUT)
        waiting = AsyncReply()
        self.ex.Wait(eid, timeout=CALL_TIMEOUT, **waiting.handlers())
        # The bus loop is free while the Wait is pending.
        t0 = time.monotonic()
        self.assertTrue(self.ex.IsInstalled(timeout=CALL_TIMEOUT), 'self.ex.IsInstalled(timeout=CALL_TIMEOUT)')
        t_installed = time.monotonic()
        self.assertFalse(waiting.done, 'Wait replied before the job ended')
        wait_until(lambda: waiting.done, 60, 'the deferred Wait reply')
        self.assertIsNone(waiting.error)
        res = json.loads(waiting.value)
        self.assertEqual(res['stdout'], 'done\n', res)
        self.assertEqual(res['exit_code'], 0, res)
        self.assertGreater(waiting.at, t_installed)
        print('\n  IsInstalled during a pending Wait: %.1f ms' % ((t_installed - t0) * 1000))
        # A second Wait on a finished execution answers at once, same result.
        self.assertEqual(json.loads(self.ex.Wait(eid, timeout=CALL_TIMEOUT))['stdout'], 'done\n')

    def test_signals_in_order(self):
        events = []

        def on_state(eid, state):
            events.append(('state', str(eid), str(state)))

        def on_finished(eid, result):
            events.append(('finished', str(eid), str(result)))

        m1 = self.conn.add_signal_receiver(on_state, 'ExecutionStateChanged', EXECUTOR_IFACE,
                                           BUS_NAME, self.ex_path)
        m2 = self.conn.add_signal_receiver(on_finished, 'ExecutionFinished', EXECUTOR_IFACE,
                                           BUS_NAME, self.ex_path)
        try:
            eid, req = job('echo signalled; exit 4')
            self.ex.Start(req, timeout=CALL_TIMEOUT)
            wait_until(lambda: any(e[0] == 'finished' and e[1] == eid for e in events), 60,
                       'ExecutionFinished for ' + eid)
        finally:
            m1.remove()
            m2.remove()
        mine = [e for e in events if e[1] == eid]
        kinds = [e[2] if e[0] == 'state' else 'FINISHED' for e in mine]
        self.assertIn('running', kinds, kinds)
        self.assertLess(kinds.index('running'), kinds.index('FINISHED'), kinds)
        self.assertEqual(kinds[-1], 'FINISHED', kinds)
        self.assertEqual(kinds[-2], 'exited', kinds)
        order = ['pending', 'created', 'running', 'exited']
        seen = [k for k in kinds if k in order]
        self.assertEqual(seen, sorted(seen, key=order.index), 'states out of order: %s' % kinds)
        res = json.loads(mine[-1][2])
        self.assertEqual(res['exit_code'], 4, res)
        self.assertEqual(res['stdout'], 'signalled\n', res)

    def test_already_started_and_cancel(self):
        eid, req = job('sleep 30', stop_timeout='1s')
        self.ex.Start(req, timeout=CALL_TIMEOUT)
        msg = self.assertDBusError(ERR + 'AlreadyStarted', self.ex.Start, req)
        self.assertIn(eid, msg)
        waiting = AsyncReply()
        self.ex.Wait(eid, timeout=CALL_TIMEOUT, **waiting.handlers())
        self.ex.Cancel(eid, timeout=CALL_TIMEOUT)
        wait_until(lambda: waiting.done, 60, 'Wait after Cancel')
        self.assertIsNone(waiting.error)
        res = json.loads(waiting.value)
        self.assertTrue(res['cancelled'], res)
        # Cancel on a finished execution is harmless.
        self.ex.Cancel(eid, timeout=CALL_TIMEOUT)

    def test_blocking_calls_run_concurrently(self):
        """Four Cancels that each block for the 2 s grace period (the jobs
        ignore SIGTERM) run on separate workers: together they take about
        2 s, not 8 s, and the bus stays responsive meanwhile."""
        ids = []
        for _ in range(4):
            eid, req = job("trap '' TERM; sleep 30", stop_timeout='2s')
            self.ex.Start(req, timeout=CALL_TIMEOUT)
            ids.append(eid)
        replies = [AsyncReply() for _ in ids]
        t0 = time.monotonic()
        for eid, r in zip(ids, replies):
            self.ex.Cancel(eid, timeout=CALL_TIMEOUT, **r.handlers())
        self.assertTrue(self.ex.IsInstalled(timeout=CALL_TIMEOUT), 'self.ex.IsInstalled(timeout=CALL_TIMEOUT)')
        t_free = time.monotonic()
        wait_until(lambda: all(r.done for r in replies), 60, 'four Cancel replies')
        elapsed = max(r.at for r in replies) - t0
        print('\n  4 concurrent 2 s Cancels: %.2f s; IsInstalled meanwhile: %.0f ms' %
              (elapsed, (t_free - t0) * 1000))
        for r in replies:
            self.assertIsNone(r.error)
        self.assertGreater(elapsed, 1.5)
        self.assertLess(elapsed, 6.0)
        for eid in ids:
            self.assertTrue(json.loads(self.ex.Wait(eid, timeout=CALL_TIMEOUT))['cancelled'], 'json.loads(self.ex.Wait(eid, timeout=CALL_TIMEOUT))[\'cancelled\']')

    def test_not_found(self):
        for fn, arg in ((self.ex.Wait, 'no-such-execution'),
                        (self.ex.Cancel, 'no-such-execution'),
                        (self.ex.GetLogStream, json.dumps({'execution_id': 'no-such-execution'}))):
            msg = self.assertDBusError(ERR + 'NotFound', fn, arg)
            self.assertIn('no-such-execution', msg)

    def test_invalid_arguments_name_the_field(self):
        self.assertDBusError(ERR + 'InvalidArgument', self.ex.Start, '{"job_id": ')
        msg = self.assertDBusError(ERR + 'InvalidArgument', self.ex.Start,
                                   json.dumps({'job_id': 'j', 'execution_id': unique('bad'),
                                               'bogus_key': 1,
                                               'engine_spec': {'type': 'docker',
                                                               'params': {'image': 'x'}}}))
        self.assertIn('bogus_key', msg)
        msg = self.assertDBusError(ERR + 'InvalidArgument', self.ex.Run,
                                   json.dumps({'job_id': 'j', 'execution_id': unique('bad'),
                                               'engine_spec': {'type': 'docker',
                                                               'params': {}}}))
        self.assertIn('image', msg)
        msg = self.assertDBusError(ERR + 'InvalidArgument', self.ex.GetLogStream,
                                   json.dumps({'execution_id': 'x', 'format': 'nope'}))
        self.assertIn('format', msg)

    def test_missing_image_is_image_error(self):
        eid, req = job('true')
        req = req.replace(dmshost.IMAGE, 'dms-test/no-such-image:1')
        req = json.loads(req)
        req['engine_spec']['params']['pull_policy'] = 'never'
        msg = self.assertDBusError(ERR + 'Image', self.ex.Start, json.dumps(req))
        self.assertIn('no-such-image', msg)

    def test_log_stream_follow_ends_with_eof(self):
        eid, req = job('for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; sleep 0.2; done')
        self.ex.Start(req, timeout=CALL_TIMEOUT)
        fd = self.ex.GetLogStream(json.dumps({'execution_id': eid, 'follow': True,
                                              'format': 'framed'}),
                                  timeout=CALL_TIMEOUT).take()
        try:
            out, err = read_frames(fd, 60)
        finally:
            os.close(fd)
        self.assertEqual(out, b''.join(b'out%d\n' % i for i in range(1, 6)))
        self.assertEqual(err, b''.join(b'err%d\n' % i for i in range(1, 6)))
        # By EOF the job has ended: Wait answers with the result.
        res = json.loads(self.ex.Wait(eid, timeout=CALL_TIMEOUT))
        self.assertEqual(res['exit_code'], 0)

    def test_log_stream_plain_after_exit(self):
        eid, res = self.run_job('seq 1 2000')
        self.assertEqual(res['exit_code'], 0)
        fd = self.ex.GetLogStream(json.dumps({'execution_id': eid, 'format': 'plain'}),
                                  timeout=CALL_TIMEOUT).take()
        try:
            data = read_all(fd, 60)
        finally:
            os.close(fd)
        self.assertEqual(data, ''.join('%d\n' % i for i in range(1, 2001)).encode())

    def test_list(self):
        eid, _ = self.run_job('true')
        entries = json.loads(self.ex.List(timeout=CALL_TIMEOUT))
        mine = [e for e in entries if e.get('execution_id') == eid]
        self.assertEqual(len(mine), 1, entries)
        self.assertEqual(mine[0]['state'], 'exited', mine)

    def test_two_clients(self):
        """A long Wait on one connection does not delay another's jobs."""
        other = self.bus.connect()
        try:
            ex2 = dbus.Interface(other.get_object(BUS_NAME, self.ex_path), EXECUTOR_IFACE)
            long_id, req = job('sleep 4; echo long')
            self.ex.Start(req, timeout=CALL_TIMEOUT)
            long_wait = AsyncReply()
            self.ex.Wait(long_id, timeout=CALL_TIMEOUT, **long_wait.handlers())
            done = []
            for i in range(3):
                _, r = job('echo short%d' % i)
                res = json.loads(ex2.Run(r, timeout=CALL_TIMEOUT))
                self.assertEqual(res['stdout'], 'short%d\n' % i)
                done.append(time.monotonic())
            self.assertFalse(long_wait.done, 'the long job ended before the short ones')
            wait_until(lambda: long_wait.done, 60, 'the long Wait')
            self.assertIsNone(long_wait.error)
            self.assertEqual(json.loads(long_wait.value)['stdout'], 'long\n')
            self.assertLess(done[-1], long_wait.at)
        finally:
            other.close()

    def test_client_disconnects_mid_wait(self):
        """A client that dies with a Wait pending costs the host nothing."""
        eid, req = job('sleep 1; echo bye')
        self.ex.Start(req, timeout=CALL_TIMEOUT)
        # A separate process sends Wait, says so, and is killed.
        script = (
            'import sys\n'
            'try:\n    import dbus\n'
            'except ImportError:\n'
            '    sys.path.append("/usr/lib/python3/dist-packages"); import dbus\n'
            'c = dbus.bus.BusConnection(sys.argv[1])\n'
            'm = dbus.lowlevel.MethodCallMessage(sys.argv[2], sys.argv[3], sys.argv[4], "Wait")\n'
            'm.append(sys.argv[5], signature="s")\n'
            'c.send_message(m); c.flush()\n'
            'print("sent", flush=True)\n'
            'sys.stdin.read()\n')
        proc = subprocess.Popen([sys.executable, '-c', script, self.bus.address, BUS_NAME,
                                 self.ex_path, EXECUTOR_IFACE, eid],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            self.assertEqual(dmshost.read_line_with_deadline(proc.stdout, 30, 'the Wait'), 'sent')
        finally:
            proc.kill()
            proc.wait(timeout=10)
            proc.stdin.close()
            proc.stdout.close()
        # The host answers the dead client into the void and keeps serving.
        res = json.loads(self.ex.Wait(eid, timeout=CALL_TIMEOUT))
        self.assertEqual(res['stdout'], 'bye\n')
        self.assertTrue(self.ex.IsInstalled(timeout=CALL_TIMEOUT), 'self.ex.IsInstalled(timeout=CALL_TIMEOUT)')


@dmshost.requires_engine
class Manager(HostTestCase):

    def test_list_executors(self):
        paths = [str(p) for p in self.manager.ListExecutors()]
        self.assertIn(self.ex_path, paths)

    def test_new_executor_is_idempotent_for_the_same_config(self):
        again = self.manager.NewExecutor(self.executor_id, self.config, timeout=CALL_TIMEOUT)
        self.assertEqual(again, self.ex_path)
        msg = self.assertDBusError(ERR + 'InvalidArgument', self.manager.NewExecutor,
                                   self.executor_id, self.config + 'output_limit: 2MiB\n')
        self.assertIn('already exists', msg)

    def test_path_escaping(self):
        eid = 'a.b-c_' + unique('x')
        path = self.manager.NewExecutor(eid, self.config, timeout=CALL_TIMEOUT)
        try:
            self.assertEqual(path, dmshost.executor_path(eid))
            self.assertIn('a_2eb_2dc_5f', path)
            props = dbus.Interface(self.conn.get_object(BUS_NAME, path), PROPS_IFACE)
            self.assertEqual(props.Get(EXECUTOR_IFACE, 'Id'), eid)
        finally:
            self.manager.RemoveExecutor(eid, timeout=CALL_TIMEOUT)

    def test_bad_executor_id_and_config(self):
        self.assertDBusError(ERR + 'InvalidArgument', self.manager.NewExecutor, 'bad id!', '')
        self.assertDBusError(ERR + 'Config', self.manager.NewExecutor, unique('c'),
                             'no_such_key: 1\n')
        self.assertDBusError(ERR + 'Config', self.manager.NewExecutor, unique('c'),
                             'plugin: not-loaded\n')

    def test_remove(self):
        eid = unique('rm')
        path = self.manager.NewExecutor(eid, self.config, timeout=CALL_TIMEOUT)
        ex = dbus.Interface(self.conn.get_object(BUS_NAME, path), EXECUTOR_IFACE)
        self.assertTrue(ex.IsInstalled(timeout=CALL_TIMEOUT), 'ex.IsInstalled(timeout=CALL_TIMEOUT)')
        self.manager.RemoveExecutor(eid, timeout=CALL_TIMEOUT)
        self.assertNotIn(path, [str(p) for p in self.manager.ListExecutors()])
        self.assertDBusError('org.freedesktop.DBus.Error.UnknownObject', ex.IsInstalled)
        self.assertDBusError(ERR + 'NotFound', self.manager.RemoveExecutor, eid)

    def test_remove_with_pending_wait_then_recover(self):
        """Remove answers pending Waits (Cancelled) and leaves the container;
        an executor with the same id re-attaches it."""
        eid = unique('rc')
        path = self.manager.NewExecutor(eid, self.config, timeout=CALL_TIMEOUT)
        ex = dbus.Interface(self.conn.get_object(BUS_NAME, path), EXECUTOR_IFACE)
        xid, req = job('sleep 3; echo survived')
        ex.Start(req, timeout=CALL_TIMEOUT)
        pending = AsyncReply()
        ex.Wait(xid, timeout=CALL_TIMEOUT, **pending.handlers())
        removed = AsyncReply()
        self.manager.RemoveExecutor(eid, timeout=CALL_TIMEOUT, **removed.handlers())
        wait_until(lambda: pending.done and removed.done, 60, 'Wait and RemoveExecutor replies')
        self.assertIsNone(removed.error)
        self.assertIsNotNone(pending.error, 'pending.error = %r' % (pending.error,))
        self.assertEqual(pending.error.get_dbus_name(), ERR + 'Cancelled')
        self.assertLessEqual(pending.at, removed.at)
        path = self.manager.NewExecutor(eid, self.config, timeout=CALL_TIMEOUT)
        ex = dbus.Interface(self.conn.get_object(BUS_NAME, path), EXECUTOR_IFACE)
        try:
            res = json.loads(ex.Wait(xid, timeout=CALL_TIMEOUT))
            self.assertEqual(res['exit_code'], 0, res)
        finally:
            ex.Cleanup(timeout=CALL_TIMEOUT)
            self.manager.RemoveExecutor(eid, timeout=CALL_TIMEOUT)

    def test_cleanup(self):
        """Cleanup removes every container, network and volume labelled with
        its executor's id — a running job's, and ones made behind its back —
        and nothing else: another executor's objects and an unlabelled
        container stay (looked at on the engine itself)."""
        api = dmshost.EngineAPI(dmshost.DOCKER_HOST[len('unix://'):])
        eid = unique('cl')
        other = unique('cl-other')
        path = self.manager.NewExecutor(eid, self.config, timeout=CALL_TIMEOUT)
        ex = dbus.Interface(self.conn.get_object(BUS_NAME, path), EXECUTOR_IFACE)
        made = []  # (kind, id) made here, removed at the end whatever happened
        try:
            xid, req = job('true')
            ex.Run(req, timeout=CALL_TIMEOUT)
            live, req = job('sleep 600')
            ex.Start(req, timeout=CALL_TIMEOUT)
            for owner in (eid, other):
                labels = {'org.dms.executor': owner, 'org.dms.execution': 'cl-made',
                          'org.dms.job': 'j-cl-made'}
                made += [(kind, api.create(kind, labels))
                         for kind in ('container', 'network', 'volume')]
            made.append(('container', api.create('container', {})))
            label = 'org.dms.executor=' + eid
            mine = {kind: api.objects(kind, label) for kind in ('container', 'network', 'volume')}
            self.assertEqual((len(mine['container']), len(mine['network']),
                              len(mine['volume'])), (2, 1, 1),
                             'before Cleanup, labelled %s: %r' % (label, mine))

            ex.Cleanup(timeout=CALL_TIMEOUT)
            for kind in ('container', 'network', 'volume'):
                left = api.objects(kind, label)
                self.assertEqual(left, [], '%ss labelled %s left by Cleanup: %r (before: %r)'
                                 % (kind, label, left, mine[kind]))
            for kind, ident in made[3:]:
                self.assertTrue(api.exists(kind, ident),
                                'Cleanup of %s removed %s %s, not its own' % (eid, kind, ident))
            res = json.loads(ex.Wait(live, timeout=CALL_TIMEOUT))
            self.assertTrue(res['cancelled'], 'the running job after Cleanup: %r' % res)
            ex.Cleanup(timeout=CALL_TIMEOUT)  # idempotent
            for kind, ident in made[3:]:
                self.assertTrue(api.exists(kind, ident),
                                'a second Cleanup removed %s %s' % (kind, ident))
        finally:
            for kind, ident in made:
                api.remove(kind, ident)
            self.manager.RemoveExecutor(eid, timeout=CALL_TIMEOUT)

if __name__ == '__main__':
    unittest.main()
