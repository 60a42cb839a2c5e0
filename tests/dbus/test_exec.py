"""test_exec.py — Exec, ExecResize and ExecWait through dms-host on a real
engine: the fd carries the framed output, ExecWait is a deferred reply
with the exit code, and the refusals have their org.dms.Error names
(docs/dbus.md, "Exec")."""
import json
import os
import select
import socket
import subprocess
import unittest

import dbus

import dmshost
from dmshost import CALL_TIMEOUT, HostTestCase


def read_all(fd, timeout=20.0):
    """The stream to EOF, as (stdout, stderr) from its 8-byte frames."""
    data = b''
    while True:
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            raise AssertionError('the exec stream did not end')
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    out, err, i = b'', b'', 0
    while i + 8 <= len(data):
        n = int.from_bytes(data[i + 4:i + 8], 'big')
        body = data[i + 8:i + 8 + n]
        if data[i] == 1:
            out += body
        else:
            err += body
        i += 8 + n
    return out.decode(), err.decode()


@dmshost.requires_engine
class Exec(HostTestCase):

    def running_job(self):
        eid, req = dmshost.job('sleep 300')
        self.ex.Start(req, timeout=CALL_TIMEOUT)
        return eid

    def test_echo_and_exit_4(self):
        eid = self.running_job()
        fd, exec_id = self.ex.Exec(eid, json.dumps(
            {'cmd': ['sh', '-c', 'echo in; echo e >&2; exit 4']}), timeout=CALL_TIMEOUT)
        fd = fd.take()
        try:
            self.assertEqual(read_all(fd), ('in\n', 'e\n'))
        finally:
            os.close(fd)
        self.assertEqual(int(self.ex.ExecWait(exec_id, timeout=CALL_TIMEOUT)), 4)

    def test_stdin(self):
        eid = self.running_job()
        fd, exec_id = self.ex.Exec(eid, json.dumps({'cmd': ['cat'], 'stdin': True}),
                                   timeout=CALL_TIMEOUT)
        s = socket.socket(fileno=fd.take())
        try:
            s.sendall(b'round trip\n')
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(read_all(s.fileno()), ('round trip\n', ''))
        finally:
            s.close()
        self.assertEqual(int(self.ex.ExecWait(exec_id, timeout=CALL_TIMEOUT)), 0)

    def test_errors(self):
        with self.assertRaises(dbus.DBusException) as cm:
            self.ex.Exec('nosuch', '{"cmd":["true"]}', timeout=CALL_TIMEOUT)
        self.assertEqual(cm.exception.get_dbus_name(), 'org.dms.Error.NotFound')
        with self.assertRaises(dbus.DBusException) as cm:
            self.ex.ExecWait('nosuchexec', timeout=CALL_TIMEOUT)
        self.assertEqual(cm.exception.get_dbus_name(), 'org.dms.Error.NotFound')
        eid = self.running_job()
        with self.assertRaises(dbus.DBusException) as cm:
            self.ex.Exec(eid, '{"cmd":[]}', timeout=CALL_TIMEOUT)
        self.assertEqual(cm.exception.get_dbus_name(), 'org.dms.Error.InvalidArgument')
        self.assertIn('cmd', str(cm.exception))
        with self.assertRaises(dbus.DBusException) as cm:
            self.ex.ExecResize('nosuchexec', 10, 10, timeout=CALL_TIMEOUT)
        self.assertEqual(cm.exception.get_dbus_name(), 'org.dms.Error.NotFound')


@dmshost.requires_engine
class DmsctlExec(HostTestCase):
    """`dmsctl exec`, a real dmsctl process talking to this dms-host, as a
    docker exec user runs it: output, exit status, stdin, options, errors."""

    def ctl(self, *args, status, stdin_data=None, text=True):
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.bus.address)
        p = subprocess.run([dmshost.DMSCTL, '--executor', self.executor_id, 'exec'] +
                           list(args), env=env, capture_output=True, text=text, timeout=60,
                           input=stdin_data,
                           stdin=None if stdin_data is not None else subprocess.DEVNULL)
        self.assertEqual(p.returncode, status, 'dmsctl exec %s: exit %d\nstdout: %s\nstderr: %s'
                         % (' '.join(args), p.returncode, p.stdout, p.stderr))
        return p

    def running_job(self):
        eid, req = dmshost.job('sleep 300')
        self.ex.Start(req, timeout=CALL_TIMEOUT)
        return eid

    def test_output_and_exit_code(self):
        eid = self.running_job()
        p = self.ctl(eid, '--', 'sh', '-c', 'echo in; echo err >&2; exit 4', status=4)
        self.assertEqual((p.stdout, p.stderr), ('in\n', 'err\n'))
        # docker exec's form, without "--"; the command's own flags are its.
        p = self.ctl(eid, 'sh', '-c', 'echo -n x', status=0)
        self.assertEqual(p.stdout, 'x')

    def test_stdin_env_user_workdir(self):
        eid = self.running_job()
        p = self.ctl('-i', eid, 'cat', status=0, stdin_data='round trip\n')
        self.assertEqual(p.stdout, 'round trip\n')
        p = self.ctl('-e', 'A=1', '--env=B=two', '-u', '1234', '-w', '/tmp', eid, '--', 'sh',
                     '-c', 'echo $A $B $(id -u) $(pwd)', status=0)
        self.assertEqual(p.stdout, '1 two 1234 /tmp\n')

    def test_tty_is_one_raw_stream(self):
        eid = self.running_job()
        p = self.ctl('-t', eid, 'sh', '-c', 'echo out; echo err >&2; exit 3', status=3,
                     text=False)
        self.assertEqual(p.stdout, b'out\r\nerr\r\n')

    def test_errors(self):
        p = self.ctl('nosuch', 'true', status=125)
        self.assertIn('org.dms.Error.NotFound', p.stderr)
        self.assertIn('nosuch', p.stderr)
        eid, _ = self.run_job('true')
        p = self.ctl(eid, 'true', status=125)
        self.assertIn('org.dms.Error.AlreadyFinished', p.stderr)
        eid = self.running_job()
        p = self.ctl(eid, status=2)
        self.assertIn('no command to run after the execution id', p.stderr)
        p = self.ctl('-w', 'relative', eid, 'true', status=125)
        self.assertIn('working_dir', p.stderr)


if __name__ == '__main__':
    unittest.main()
