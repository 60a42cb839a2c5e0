"""test_malformed.py — protocol mistakes and hostile input get the right error
names (wrong signatures, unknown objects/methods/interfaces, invalid JSON,
1 MiB strings) while dms-host keeps serving; SIGTERM with a Wait pending
answers it and shuts down cleanly."""
import json
import tempfile
import unittest

import dmshost
from dmshost import (BUS_NAME, CALL_TIMEOUT, EXECUTOR_IFACE, MANAGER_IFACE, MANAGER_PATH,
                     AsyncReply, HostTestCase, dbus, job, wait_until)

FD = 'org.freedesktop.DBus.Error.'
MIB = 1024 * 1024


def raw_call(conn, path, iface, method, *args, signature=None):
    """A method call with arguments of our choosing, bypassing introspection."""
    return conn.call_blocking(BUS_NAME, path, iface, method, signature, args,
                              timeout=CALL_TIMEOUT)


@dmshost.requires_engine
class Malformed(HostTestCase):

    def tearDown(self):
        # Whatever the test did, the daemon still answers.
        self.assertTrue(self.ex.IsInstalled(timeout=CALL_TIMEOUT), 'self.ex.IsInstalled(timeout=CALL_TIMEOUT)')

    def assertRaw(self, name, path, iface, method, *args, signature=None):
        with self.assertRaises(dbus.DBusException) as cm:
            raw_call(self.conn, path, iface, method, *args, signature=signature)
        self.assertEqual(cm.exception.get_dbus_name(), name, cm.exception.get_dbus_message())
        return cm.exception.get_dbus_message()

    def test_wrong_signature(self):
        msg = self.assertRaw(FD + 'InvalidArgs', self.ex_path, EXECUTOR_IFACE, 'Start', 42,
                             signature='i')
        self.assertIn('"s"', msg)
        self.assertRaw(FD + 'InvalidArgs', self.ex_path, EXECUTOR_IFACE, 'Wait', 'a', 'b',
                       signature='ss')
        self.assertRaw(FD + 'InvalidArgs', self.ex_path, EXECUTOR_IFACE, 'IsInstalled', 'x',
                       signature='s')
        self.assertRaw(FD + 'InvalidArgs', self.ex_path, EXECUTOR_IFACE, 'Run',
                       signature='')
        self.assertRaw(FD + 'InvalidArgs', MANAGER_PATH, MANAGER_IFACE, 'NewExecutor', 'only',
                       signature='s')
        self.assertRaw(FD + 'InvalidArgs', self.ex_path, 'org.freedesktop.DBus.Properties',
                       'Get', EXECUTOR_IFACE, signature='s')

    def test_unknown_object_method_interface(self):
        self.assertRaw(FD + 'UnknownObject', MANAGER_PATH + '/no_2dsuch', EXECUTOR_IFACE,
                       'IsInstalled')
        self.assertRaw(FD + 'UnknownObject', '/elsewhere', EXECUTOR_IFACE, 'IsInstalled')
        self.assertRaw(FD + 'UnknownMethod', self.ex_path, EXECUTOR_IFACE, 'Explode')
        self.assertRaw(FD + 'UnknownMethod', MANAGER_PATH, MANAGER_IFACE, 'Start', 'x',
                       signature='s')
        self.assertRaw(FD + 'UnknownInterface', self.ex_path, 'org.example.Nope', 'Start',
                       'x', signature='s')
        # Calls without an interface are dispatched by member name.
        self.assertTrue(raw_call(self.conn, self.ex_path, None, 'IsInstalled'), 'raw_call(self.conn, self.ex_path, None, \'IsInstalled\')')

    def test_invalid_json(self):
        for bad in ('', '{', '[1,2', '{"job_id": 1}', 'null', '"just a string"', '\x01\x02'):
            with self.subTest(request=bad):
                self.assertRaw('org.dms.Error.InvalidArgument', self.ex_path, EXECUTOR_IFACE,
                               'Start', bad, signature='s')

    def test_huge_strings(self):
        huge = 'x' * MIB
        self.assertRaw('org.dms.Error.InvalidArgument', self.ex_path, EXECUTOR_IFACE, 'Start',
                       huge, signature='s')
        self.assertRaw('org.dms.Error.InvalidArgument', self.ex_path, EXECUTOR_IFACE, 'Run',
                       '{"job_id": "%s"}' % huge, signature='s')
        with self.assertRaises(dbus.DBusException) as cm:
            raw_call(self.conn, self.ex_path, EXECUTOR_IFACE, 'Wait', huge, signature='s')
        self.assertIn(cm.exception.get_dbus_name(),
                      ('org.dms.Error.NotFound', 'org.dms.Error.InvalidArgument'))
        self.assertRaw('org.dms.Error.InvalidArgument', MANAGER_PATH, MANAGER_IFACE,
                       'NewExecutor', huge, '', signature='ss')
        self.assertRaw('org.dms.Error.Config', MANAGER_PATH, MANAGER_IFACE,
                       'NewExecutor', dmshost.unique('h'), 'k: ' + huge, signature='ss')
        # A big, valid request (just under the executor's 1 MiB request
        # limit; 8 variables, as the kernel caps one at 128 KiB) runs.
        # The default policy.max.environment (256 KiB) refuses it; an
        # executor whose policy allows 2 MiB runs it.
        env = ['B%d=%s' % (i, 'y' * 120000) for i in range(8)]
        eid, req = job('echo ${#B0} ${#B7}', environment=env)
        with self.assertRaises(dbus.DBusException) as cm:
            self.ex.Run(req, timeout=CALL_TIMEOUT)
        self.assertEqual(cm.exception.get_dbus_name(), 'org.dms.Error.PermissionDenied')
        self.assertIn('policy.max.environment', cm.exception.get_dbus_message())
        big_id = dmshost.unique('big')
        path = self.manager.NewExecutor(
            big_id, dmshost.executor_config(self.state_dir) +
            'policy:\n  max: {environment: 2MiB}\n', timeout=CALL_TIMEOUT)
        big = dbus.Interface(self.conn.get_object(dmshost.BUS_NAME, path), dmshost.EXECUTOR_IFACE)
        try:
            res = json.loads(big.Run(req, timeout=CALL_TIMEOUT))
            self.assertEqual(res['stdout'], '120000 120000\n', res)
        finally:
            big.Cleanup(timeout=CALL_TIMEOUT)
            self.manager.RemoveExecutor(big_id, timeout=CALL_TIMEOUT)

    def test_binary_output(self):
        """Output that is not UTF-8 reaches the client (as U+FFFD or escaped)
        instead of tripping libdbus's UTF-8 checks."""
        eid, res = self.run_job("printf 'a\\377\\376b\\n'; printf '\\300\\n' >&2")
        self.assertEqual(res['exit_code'], 0, res)
        self.assertTrue(res['stdout'].startswith('a') and res['stdout'].endswith('b\n'), res)
        fin = self.ex.Wait(eid, timeout=CALL_TIMEOUT)
        self.assertEqual(json.loads(fin), res)

    def test_many_calls_in_flight(self):
        """200 calls at once, all answered."""
        replies = [AsyncReply() for _ in range(200)]
        for i, r in enumerate(replies):
            if i % 2:
                self.ex.IsInstalled(timeout=CALL_TIMEOUT, **r.handlers())
            else:
                self.ex.Wait('nope-%d' % i, timeout=CALL_TIMEOUT, **r.handlers())
        wait_until(lambda: all(r.done for r in replies), 120, '200 replies')
        for i, r in enumerate(replies):
            if i % 2:
                self.assertIsNone(r.error)
            else:
                self.assertEqual(r.error.get_dbus_name(), 'org.dms.Error.NotFound')


@dmshost.requires_engine
class Shutdown(unittest.TestCase):
    """dms-host's SIGTERM: a pending Wait is answered, the host exits 0, and
    no finished job's container is left."""

    def setUp(self):
        self.bus = dmshost.PrivateBus()
        try:
            self.host = dmshost.Host(self.bus)
        except Exception:
            dmshost.teardown(bus=self.bus)
            raise
        self.conn = self.bus.connect()
        self.eid = dmshost.unique('sd')
        self.config = dmshost.executor_config(tempfile.mkdtemp(prefix='dms-state-'))
        self.ex = self.new_executor()

    def tearDown(self):
        # A host the test stopped was checked by the test.
        alive = self.host.proc.poll() is None
        dmshost.teardown(conn=self.conn, host=self.host, bus=self.bus, check_host=alive)

    def new_executor(self):
        manager = dbus.Interface(self.conn.get_object(BUS_NAME, MANAGER_PATH), MANAGER_IFACE)
        path = manager.NewExecutor(self.eid, self.config, timeout=CALL_TIMEOUT)
        return dbus.Interface(self.conn.get_object(BUS_NAME, path), EXECUTOR_IFACE)

    def terminate_host(self):
        self.host.proc.terminate()
        status, log = self.host.wait_exit(60)
        self.assertEqual(status, 0, log)
        self.assertNotIn('AddressSanitizer', log)

    def test_sigterm_with_pending_wait(self):
        xid, req = job('sleep 30')
        self.ex.Start(req, timeout=CALL_TIMEOUT)
        pending = AsyncReply()
        self.ex.Wait(xid, timeout=CALL_TIMEOUT, **pending.handlers())
        self.assertTrue(self.ex.IsInstalled(timeout=CALL_TIMEOUT), 'self.ex.IsInstalled(timeout=CALL_TIMEOUT)')  # Wait is registered
        self.host.proc.terminate()
        wait_until(lambda: pending.done, 60, 'the pending Wait to be answered')
        self.assertEqual(pending.error.get_dbus_name(), 'org.dms.Error.Cancelled')
        self.terminate_host()
        # The container outlives the host; a new one cleans it up.
        self.host = dmshost.Host(self.bus)
        self.new_executor().Cleanup(timeout=CALL_TIMEOUT)

    def test_sigterm_leaves_no_finished_job_behind(self):
        """Results delivered, removals queued: the host's shutdown (destroy)
        lets them finish."""
        # Exiting together: harvests come before removals, so at the last
        # reply the removals are all still queued.
        jobs = [job('sleep 2') for _ in range(12)]
        replies = []
        for xid, req in jobs:
            self.ex.Start(req, timeout=CALL_TIMEOUT)
            r = AsyncReply()
            self.ex.Wait(xid, timeout=CALL_TIMEOUT, **r.handlers())
            replies.append(r)
        wait_until(lambda: all(r.done for r in replies), 120, 'the Waits')
        self.assertEqual([r.error for r in replies], [None] * len(jobs))
        self.terminate_host()  # right after the last reply
        left = dmshost.engine_api('docker').containers('org.dms.executor=' + self.eid)
        self.assertEqual(left, [], 'containers left after the shutdown')

if __name__ == '__main__':
    unittest.main()
