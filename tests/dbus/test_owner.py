"""test_owner.py — who may touch whose jobs: dms-host records the uid that
created an executor (NewExecutor), and only that uid and root may call its
job methods and RemoveExecutor; everyone else gets
org.freedesktop.DBus.Error.AccessDenied naming the executor and the rule.

On a real system-bus configuration: a private dbus-daemon with the system
bus's default policy and the shipped host/dist/org.dms.Executor.conf (the
mechanism of test_policy.py), dms-host --system as root, and two
unprivileged users made here, members of group dms, whose clients run as
those users. Needs root, useradd and the engine."""
import grp
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import textwrap
import unittest

import dmshost
from dmshost import (BUS_NAME, CALL_TIMEOUT, EXECUTOR_IFACE, MANAGER_IFACE, MANAGER_PATH, dbus,
                     job)
from test_policy import BUS_CONFIG, POLICY, SYSTEM_PYTHON

DENIED = 'org.freedesktop.DBus.Error.AccessDenied'

# Runs as an unprivileged user: argv[2] is a JSON list of calls
# [object path, interface, member, signature, args]; prints one JSON line
# per call: ["ok", value] or [error name, message].
CLIENT = textwrap.dedent('''
    import json, sys
    sys.path.append("/usr/lib/python3/dist-packages")
    import dbus
    c = dbus.bus.BusConnection(sys.argv[1])
    for path, iface, member, sig, args in json.loads(sys.argv[2]):
        try:
            r = c.call_blocking("%s", path, iface, member, sig, args, timeout=120)
            print(json.dumps(["ok", None if r is None else str(r)]), flush=True)
        except dbus.DBusException as e:
            print(json.dumps([e.get_dbus_name(), e.get_dbus_message()]), flush=True)
''') % BUS_NAME


def ex_call(path, member, sig='', args=()):
    return [path, EXECUTOR_IFACE, member, sig, list(args)]


def mgr_call(member, sig, args):
    return [MANAGER_PATH, MANAGER_IFACE, member, sig, list(args)]


class Users:
    """Unprivileged users made for the test (useradd --system), members of
    group dms (made too when the machine has none); removed by remove()."""

    def __init__(self):
        self.names = []
        self.made_group = False
        try:
            grp.getgrnam('dms')
        except KeyError:
            subprocess.run(['groupadd', '--system', 'dms'], check=True)
            self.made_group = True

    def add(self, tag):
        name = 'dms%s%d' % (tag, os.getpid() % 100000)
        subprocess.run(['useradd', '--system', '--no-create-home', '--user-group',
                        '--shell', '/usr/sbin/nologin', '--groups', 'dms', name], check=True)
        self.names.append(name)
        return pwd.getpwnam(name)

    def remove(self):
        for name in self.names:
            subprocess.run(['userdel', name], check=False, stderr=subprocess.DEVNULL)
        if self.made_group:
            subprocess.run(['groupdel', 'dms'], check=False, stderr=subprocess.DEVNULL)


@unittest.skipUnless(os.geteuid() == 0, 'needs root to make users and run clients as them')
@unittest.skipUnless(os.path.exists(SYSTEM_PYTHON), 'needs ' + SYSTEM_PYTHON)
@unittest.skipUnless(shutil.which('useradd'), 'needs useradd')
@dmshost.requires_engine
class ExecutorOwners(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.users = Users()
        cls.tmp = tempfile.mkdtemp(prefix='dms-owner-')
        os.chmod(cls.tmp, 0o755)
        try:
            cls.a = cls.users.add('a')
            cls.b = cls.users.add('b')
            conf = os.path.join(cls.tmp, 'bus.conf')
            with open(conf, 'w') as f:
                f.write(BUS_CONFIG % {'dir': cls.tmp, 'policy': POLICY})
            # dms-host's own --config: the operator's executor "shared".
            shared_conf = os.path.join(cls.tmp, 'shared.yaml')
            with open(shared_conf, 'w') as f:
                f.write(dmshost.executor_config(os.path.join(cls.tmp, 'shared')))
            cls.bus = dmshost.PrivateBus(config_file=conf)
        except Exception:
            cls.users.remove()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise
        try:
            cls.host = dmshost.Host(cls.bus, ['--config', shared_conf, '--executor', 'shared'],
                                    system=True)
        except Exception:
            dmshost.teardown(bus=cls.bus, dirs=[cls.tmp])
            cls.users.remove()
            raise
        cls.conn = cls.bus.connect()

    @classmethod
    def tearDownClass(cls):
        try:
            dmshost.teardown(conn=cls.conn, host=cls.host, bus=cls.bus, dirs=[cls.tmp])
        finally:
            cls.users.remove()

    def as_user(self, user, calls):
        """Runs calls as user (its groups: its own and dms); returns the
        list of [outcome, value-or-message]."""
        p = subprocess.run([SYSTEM_PYTHON, '-c', CLIENT, self.bus.address, json.dumps(calls)],
                           user=user.pw_uid, group=user.pw_gid,
                           extra_groups=[grp.getgrnam('dms').gr_gid], capture_output=True,
                           text=True, timeout=600, cwd='/')
        self.assertEqual(p.returncode, 0, p.stderr)
        out = [json.loads(line) for line in p.stdout.splitlines()]
        self.assertEqual(len(out), len(calls), p.stdout)
        return out

    def new_executor_as(self, user, tag):
        eid = dmshost.unique('own-' + tag)
        config = dmshost.executor_config(os.path.join(self.tmp, eid))
        [(outcome, path)] = self.as_user(user, [mgr_call('NewExecutor', 'ss', [eid, config])])
        self.assertEqual(outcome, 'ok', path)
        return eid, config, path

    def assertRan(self, outcome, text):
        self.assertEqual(outcome[0], 'ok', outcome)
        self.assertIn(text, json.loads(outcome[1])['stdout'])

    def test_executor_of_a_is_refused_to_b_and_allowed_to_root(self):
        a_id, a_config, a_path = self.new_executor_as(self.a, 'a')
        xid, req = job('echo by a')
        self.assertRan(self.as_user(self.a, [ex_call(a_path, 'Run', 's', [req])])[0], 'by a')

        # B, a member of dms like A: every owner-only method of A's executor.
        b_xid, b_req = job('echo by b')
        calls = {
            'Start': ex_call(a_path, 'Start', 's', [b_req]),
            'Run': ex_call(a_path, 'Run', 's', [b_req]),
            'Wait': ex_call(a_path, 'Wait', 's', [xid]),
            'Cancel': ex_call(a_path, 'Cancel', 's', [xid]),
            'GetLogStream': ex_call(a_path, 'GetLogStream', 's',
                                    [json.dumps({'execution_id': xid})]),
            'Cleanup': ex_call(a_path, 'Cleanup'),
            'List': ex_call(a_path, 'List'),
            'RemoveExecutor': mgr_call('RemoveExecutor', 's', [a_id]),
            'NewExecutor': mgr_call('NewExecutor', 'ss', [a_id, a_config]),
            'IsInstalled': ex_call(a_path, 'IsInstalled'),
        }
        results = dict(zip(calls, self.as_user(self.b, list(calls.values()))))
        for name, (outcome, message) in sorted(results.items()):
            with self.subTest(method=name):
                if name == 'IsInstalled':  # not a job method: anyone in dms
                    self.assertEqual(outcome, 'ok', message)
                    continue
                self.assertEqual(outcome, DENIED, message)
                self.assertIn('executor "%s"' % a_id, message)
                self.assertIn('belongs to uid %d' % self.a.pw_uid, message)
                self.assertIn('only its creator and root', message)
                self.assertIn('caller uid %d' % self.b.pw_uid, message)

        # Nothing of B's happened on A's executor: its job was never
        # created, on the executor or on the engine; A's executor is there.
        ex = dbus.Interface(self.conn.get_object(BUS_NAME, a_path), EXECUTOR_IFACE)
        listed = [x['execution_id'] for x in json.loads(ex.List(timeout=CALL_TIMEOUT))]
        self.assertIn(xid, listed)
        self.assertNotIn(b_xid, listed)
        self.assertEqual(dmshost.EngineAPI(dmshost.DOCKER_HOST[len('unix://'):]).containers(
            'org.dms.execution=' + b_xid), [])

        # Root may do everything on A's executor.
        r_xid, r_req = job('echo by root')
        self.assertIn('by root', json.loads(ex.Run(r_req, timeout=CALL_TIMEOUT))['stdout'])
        self.assertEqual(json.loads(ex.Wait(xid, timeout=CALL_TIMEOUT))['exit_code'], 0)

        # A still may, and removes it.
        outcome = self.as_user(self.a, [ex_call(a_path, 'Wait', 's', [xid]),
                                        ex_call(a_path, 'Cleanup'),
                                        mgr_call('RemoveExecutor', 's', [a_id])])
        self.assertEqual([o[0] for o in outcome], ['ok', 'ok', 'ok'], outcome)

    def test_each_user_owns_its_own(self):
        # The rule is symmetric: B's executor works for B and is A's to
        # keep out of; root removes it.
        b_id, _, b_path = self.new_executor_as(self.b, 'b')
        _, req = job('echo mine')
        self.assertRan(self.as_user(self.b, [ex_call(b_path, 'Run', 's', [req])])[0], 'mine')
        [(outcome, message)] = self.as_user(self.a, [ex_call(b_path, 'Run', 's', [req])])
        self.assertEqual(outcome, DENIED, message)
        manager = dbus.Interface(self.conn.get_object(BUS_NAME, MANAGER_PATH), MANAGER_IFACE)
        manager.RemoveExecutor(b_id, timeout=CALL_TIMEOUT)
        self.assertNotIn(b_path, manager.ListExecutors(timeout=CALL_TIMEOUT))

    def test_the_operators_executor_is_shared(self):
        # "shared" was made by dms-host's own --config: no creator on the
        # bus, so every member of dms may use it (the bus policy decides).
        path = dmshost.executor_path('shared')
        for user, text in ((self.a, 'a on shared'), (self.b, 'b on shared')):
            _, req = job('echo ' + text)
            self.assertRan(self.as_user(user, [ex_call(path, 'Run', 's', [req])])[0], text)


if __name__ == '__main__':
    unittest.main()
