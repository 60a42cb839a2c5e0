"""test_hostlog.py — dms-host's own log: one line per job event with the
execution id and a level, filtered by --log-level, never a credential;
on stderr, and to journald's native protocol when started by systemd
(JOURNAL_STREAM or INVOCATION_ID set): the test binds its own datagram
socket, points dms-host at it with DMS_JOURNAL_SOCKET and reads the
datagrams back with a deadline. Real jobs on the real engine."""
import json
import os
import select
import socket
import struct
import tempfile
import time
import unittest

import dmshost
from dmshost import CALL_TIMEOUT, HostTestCase, dbus, job

SECRET_PASSWORD = 'pw-%d-do-not-log' % os.getpid()
SECRET_TOKEN = 'tok-%d-do-not-log' % os.getpid()
SECRET_ENV = 'env-%d-do-not-log' % os.getpid()
SECRETS = (SECRET_PASSWORD, SECRET_TOKEN, SECRET_ENV)

# Registry credentials in the executor config: they must never be logged.
CREDENTIALS = ('registries:\n'
               '  - server: registry.invalid:5000\n    username: u\n    password: "%s"\n'
               '  - server: other.invalid\n    identity_token: "%s"\n' %
               (SECRET_PASSWORD, SECRET_TOKEN))


def secret_job(script, **kw):
    """A job whose request carries a secret in its environment."""
    return job(script, environment=['API_KEY=' + SECRET_ENV], **kw)


def parse_journal(data):
    """One native-protocol datagram -> {field: value} (KEY=value lines,
    and KEY\\n<64-bit LE length><value>\\n for values with newlines)."""
    fields = {}
    i = 0
    while i < len(data):
        nl = data.index(b'\n', i)
        line = data[i:nl]
        if b'=' in line:
            k, v = line.split(b'=', 1)
            fields[k.decode()] = v.decode()
            i = nl + 1
        else:
            n = struct.unpack('<Q', data[nl + 1:nl + 9])[0]
            fields[line.decode()] = data[nl + 9:nl + 9 + n].decode()
            if data[nl + 9 + n:nl + 10 + n] != b'\n':
                raise AssertionError('binary field %r not ended by a newline' % line)
            i = nl + 10 + n
    return fields


class LogOnStderr(HostTestCase):
    host_args = ('--log-level', 'debug')

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The class executor again, with credentials in its config.
        cls.manager.RemoveExecutor(cls.executor_id, timeout=CALL_TIMEOUT)
        cls.config = cls.config + CREDENTIALS
        cls.ex_path = cls.manager.NewExecutor(cls.executor_id, cls.config, timeout=CALL_TIMEOUT)
        cls.ex = dbus.Interface(cls.conn.get_object(dmshost.BUS_NAME, cls.ex_path),
                                dmshost.EXECUTOR_IFACE)

    def log_until(self, text, timeout=30):
        """The host's log once it contains text (the lines are written from
        the plugin's threads, right after the events)."""
        return dmshost.poll_until(lambda: text in self.host.read_log() and self.host.read_log(),
                                  timeout, repr(text) + ' in the dms-host log')

    def lines_of(self, log, execution_id):
        return [line for line in log.splitlines() if 'execution %s ' % execution_id in line]

    def test_one_line_per_job_event_with_id_and_level(self):
        eid, req = secret_job('echo out; exit 4')
        self.assertEqual(json.loads(self.ex.Run(req, timeout=CALL_TIMEOUT))['exit_code'], 4)
        log = self.log_until('execution %s (executor %s): exited' % (eid, self.executor_id))
        lines = self.lines_of(log, eid)
        prefix = 'dms-host: %s: execution ' + eid + ' (executor ' + self.executor_id + '): '
        self.assertIn(prefix % 'info' + 'running', lines)
        self.assertIn(prefix % 'info' + 'exited, exit code 4', lines)
        self.assertIn(prefix % 'debug' + 'created', lines)
        self.assertEqual(len([x for x in lines if x.endswith(': running')]), 1, lines)
        self.assertIn('dms-host: debug: call Run on %s from ' % self.ex_path, log)

    def test_cancel_and_failure_levels(self):
        eid, req = secret_job('sleep 300')
        self.ex.Start(req, timeout=CALL_TIMEOUT)
        self.ex.Cancel(eid, timeout=CALL_TIMEOUT)
        self.ex.Wait(eid, timeout=CALL_TIMEOUT)
        log = self.log_until('execution %s (executor %s): cancelled' % (eid, self.executor_id))
        self.assertTrue(any(x.startswith('dms-host: info: ') and ': cancelled' in x
                            for x in self.lines_of(log, eid)), self.lines_of(log, eid))
        fid, req = job('true', image='dms-test/no-such:%d' % os.getpid(), pull_policy='never')
        self.assertDBusError('org.dms.Error.Image', self.ex.Run, req)
        log = self.log_until('execution %s (executor %s): failed' % (fid, self.executor_id))
        [failed] = [x for x in self.lines_of(log, fid) if ': failed: ' in x]
        self.assertTrue(failed.startswith('dms-host: warn: '), failed)
        # The reply's error, with the plugin's message, at the same level.
        why = 'dms-host: warn: executor %s: Run failed: Image: ' % self.executor_id
        self.assertTrue(any(x.startswith(why) and 'no-such' in x for x in log.splitlines()),
                        log)

    def test_no_credentials_in_the_log(self):
        # A pull from the credentialled registry fails (it does not exist);
        # the config, the request and its env are never written.
        _, req = secret_job('true', image='registry.invalid:5000/x:1')
        with self.assertRaises(dbus.DBusException):
            self.ex.Run(req, timeout=CALL_TIMEOUT)
        eid, req = secret_job('echo $API_KEY')
        self.assertIn(SECRET_ENV, json.loads(self.ex.Run(req, timeout=CALL_TIMEOUT))['stdout'])
        log = self.log_until('execution %s (executor %s): exited' % (eid, self.executor_id))
        for secret in SECRETS:
            self.assertNotIn(secret, log)


class LogLevelFilter(HostTestCase):
    host_args = ('--log-level', 'warn')

    def test_warn_keeps_failures_only(self):
        eid, req = job('true')
        self.ex.Run(req, timeout=CALL_TIMEOUT)
        fid, req = job('true', image='dms-test/no-such:%d' % os.getpid(), pull_policy='never')
        self.assertDBusError('org.dms.Error.Image', self.ex.Run, req)
        log = dmshost.poll_until(
            lambda: ('execution %s' % fid) in self.host.read_log() and self.host.read_log(), 30,
            'the failure in the log')
        self.assertNotIn(eid, log)
        self.assertNotIn(': info: ', log)
        self.assertNotIn(': debug: ', log)
        self.assertIn('dms-host: warn: execution %s' % fid, log)


class BadLogLevel(unittest.TestCase):
    def test_an_unknown_level_is_refused_by_name(self):
        bus = dmshost.PrivateBus()
        try:
            host = dmshost.Host(bus, ['--log-level', 'verbose'], wait_for_name=False)
            status, log = host.wait_exit(30)
        finally:
            bus.stop()
        self.assertEqual(status, 2, log)
        self.assertIn('--log-level: want error, warn, info or debug, got "verbose"', log)


class LogToJournal(HostTestCase):
    """As under systemd: INVOCATION_ID set, the journal socket ours."""

    @classmethod
    def setUpClass(cls):
        cls.jdir = tempfile.mkdtemp(prefix='dms-journal-')
        cls.jpath = os.path.join(cls.jdir, 'socket')
        cls.journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        cls.journal.bind(cls.jpath)
        cls.host_env = {'INVOCATION_ID': '0123456789abcdef0123456789abcdef',
                        'DMS_JOURNAL_SOCKET': cls.jpath}
        cls.host_args = ('--log-level', 'info')
        cls.received = []
        try:
            super().setUpClass()
        except BaseException:
            cls.journal.close()
            raise
        cls.manager.RemoveExecutor(cls.executor_id, timeout=CALL_TIMEOUT)
        cls.config = cls.config + CREDENTIALS
        cls.ex_path = cls.manager.NewExecutor(cls.executor_id, cls.config, timeout=CALL_TIMEOUT)
        cls.ex = dbus.Interface(cls.conn.get_object(dmshost.BUS_NAME, cls.ex_path),
                                dmshost.EXECUTOR_IFACE)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.journal.close()
            dmshost.teardown(dirs=[cls.jdir])

    def datagrams_until(self, predicate, timeout=30):
        """Reads datagrams (deadline) until one satisfies predicate."""
        deadline = time.monotonic() + timeout
        for f in self.received:
            if predicate(f):
                return f
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.journal], [], [], left)[0]:
                raise AssertionError('no such journal entry within %ds; got %r' %
                                     (timeout, self.received))
            f = parse_journal(self.journal.recv(1 << 20))
            self.received.append(f)
            if predicate(f):
                return f

    def test_job_events_are_journal_entries_with_fields(self):
        eid, req = secret_job('echo $API_KEY; exit 2')
        self.ex.Run(req, timeout=CALL_TIMEOUT)
        running = self.datagrams_until(lambda f: f.get('DMS_EXECUTION_ID') == eid and
                                       f['MESSAGE'] == 'running')
        exited = self.datagrams_until(lambda f: f.get('DMS_EXECUTION_ID') == eid and
                                      f['MESSAGE'].startswith('exited'))
        for f in (running, exited):
            self.assertEqual(f['PRIORITY'], '6')
            self.assertEqual(f['SYSLOG_IDENTIFIER'], 'dms-host')
            self.assertEqual(f['DMS_EXECUTOR_ID'], self.executor_id)
        self.assertEqual(exited['MESSAGE'], 'exited, exit code 2')
        # Failures are warnings (PRIORITY 4); nothing of the jobs on stderr.
        fid, req = job('true', image='dms-test/no-such:%d' % os.getpid(), pull_policy='never')
        self.assertDBusError('org.dms.Error.Image', self.ex.Run, req)
        failed = self.datagrams_until(lambda f: f.get('DMS_EXECUTION_ID') == fid)
        self.assertEqual(failed['PRIORITY'], '4')
        self.assertNotIn(eid, self.host.read_log())
        for f in self.received:
            for secret in SECRETS:
                self.assertNotIn(secret, json.dumps(f))


if __name__ == '__main__':
    unittest.main()
