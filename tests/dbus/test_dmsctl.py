"""test_dmsctl.py — the CLI: `dmsctl run` streams live output and exits with
the job's code (125 when the job cannot start), start/wait/logs/cancel/ls/
info/cleanup, --json, --help, over a running dms-host and in embedded mode
(no dms-host on the bus: the plugin is loaded in-process)."""
import json
import os
import subprocess
import tempfile
import unittest

import dmshost
from dmshost import DMSCTL, IMAGE, HostTestCase, unique


class CtlMixin:
    def ctl(self, *args, timeout=120, stdin=None, check_status=None):
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.bus.address,
                   DOCKER_HOST=dmshost.DOCKER_HOST, DMS_EXECUTOR_CONFIG=self.config_file)
        p = subprocess.run([DMSCTL, '--executor', self.ctl_executor, '-v'] + list(args),
                           env=env, capture_output=True, text=True, timeout=timeout,
                           input=stdin)
        if check_status is not None:
            self.assertEqual(p.returncode, check_status,
                             'dmsctl %s: %d\nstdout: %s\nstderr: %s' %
                             (' '.join(args), p.returncode, p.stdout, p.stderr))
        return p

    def check_run_and_friends(self, mode):
        p = self.ctl('run', IMAGE, '--', 'sh', '-c', 'echo out; echo err >&2; exit 7',
                     check_status=7)
        self.assertEqual(p.stdout, 'out\n')
        self.assertIn('err\n', p.stderr)
        self.assertIn(mode, p.stderr)
        # No shell is implied: CMD runs as given.
        p = self.ctl('run', '-e', 'A=1', '-e', 'B=two words', '-w', '/tmp', IMAGE, '--',
                     'env', check_status=0)
        self.assertIn('A=1\n', p.stdout)
        self.assertIn('B=two words\n', p.stdout)
        p = self.ctl('run', '-w', '/tmp', '--cpus', '0.5', '--memory', '64m', IMAGE, '--',
                     'pwd', check_status=0)
        self.assertEqual(p.stdout, '/tmp\n')
        # Lots of output, split across reads and frames, arrives intact.
        p = self.ctl('run', '--rm', IMAGE, '--', 'seq', '1', '50000', check_status=0)
        self.assertEqual(p.stdout, ''.join('%d\n' % i for i in range(1, 50001)))
        # A job that cannot start: 125, like docker run.
        p = self.ctl('run', 'dms-test/no-such-image:1', '--', 'true', check_status=125)
        self.assertIn('org.dms.Error.Image', p.stderr)
        # --json: the result document, exit code still the job's.
        p = self.ctl('--json', 'run', '--name', unique('named'), IMAGE, '--', 'sh', '-c',
                     'echo j; exit 2', check_status=2)
        self.assertEqual(json.loads(p.stdout)['stdout'], 'j\n')

    def check_start_wait_logs(self):
        with tempfile.NamedTemporaryFile('w', suffix='.yaml', delete=False) as f:
            f.write('job_id: ctl-yaml\nengine_spec:\n  type: docker\n  params:\n'
                    '    image: %s\n    entrypoint: ["/bin/sh", "-c"]\n'
                    '    cmd: ["echo one; sleep 1; echo two >&2; exit 5"]\n' % IMAGE)
        try:
            p = self.ctl('start', '-f', f.name, check_status=0)
        finally:
            os.unlink(f.name)
        eid = p.stdout.strip()
        self.assertTrue(eid.startswith('run-'), eid)
        p = self.ctl('logs', '-f', eid, check_status=0)
        self.assertEqual(p.stdout, 'one\n')
        self.assertIn('two\n', p.stderr)
        p = self.ctl('wait', eid, check_status=5)
        self.assertIn('exit code 5', p.stderr)
        p = self.ctl('--json', 'wait', eid, check_status=5)
        self.assertEqual(json.loads(p.stdout)['exit_code'], 5)
        p = self.ctl('logs', '-n', '1', eid, check_status=0)
        self.assertEqual(p.stdout, '')  # the last line was stderr's
        self.assertIn('two', p.stderr)
        p = self.ctl('ls', check_status=0)
        self.assertIn(eid, p.stdout)
        p = self.ctl('--json', 'ls', check_status=0)
        self.assertIn(eid, [e['execution_id'] for e in json.loads(p.stdout)])
        return eid

    def check_cancel(self, same_process=True):
        eid = unique('cancel')
        req = json.dumps({'job_id': 'c', 'execution_id': eid, 'engine_spec': {
            'type': 'docker', 'params': {'image': IMAGE, 'cmd': ['sleep', '60'],
                                         'stop_timeout': '1s'}}})
        p = self.ctl('start', '-f', '-', stdin=req, check_status=0)
        self.assertEqual(p.stdout.strip(), eid)
        self.ctl('cancel', eid, check_status=0)
        p = self.ctl('--json', 'wait', eid)
        res = json.loads(p.stdout)
        if same_process:
            self.assertTrue(res['cancelled'], p.stdout)
        else:
            # Another process's executor cancelled it: this one sees a
            # container that was stopped, not a sleep that ran its 60 s.
            self.assertEqual(res['exit_code'], 137, p.stdout)
        p = self.ctl('cancel', 'no-such-execution', check_status=1)
        self.assertIn('org.dms.Error.NotFound', p.stderr)


@dmshost.requires_engine
class OverTheBus(HostTestCase, CtlMixin):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ctl_executor = cls.executor_id
        cls.config_file = os.path.join(cls.state_dir, 'executor.yaml')
        with open(cls.config_file, 'w') as f:
            f.write(cls.config)

    def test_run(self):
        self.check_run_and_friends('dms-host on the bus')

    def test_start_wait_logs(self):
        self.check_start_wait_logs()

    def test_cancel(self):
        self.check_cancel()

    def test_info(self):
        p = self.ctl('info', check_status=0)
        self.assertIn('installed: yes', p.stdout)
        self.assertIn('runtime: docker', p.stdout)
        p = self.ctl('--json', 'info', check_status=0)
        info = json.loads(p.stdout)
        self.assertEqual(info['mode'], 'bus')
        self.assertEqual(info['engine']['runtime'], 'docker')

    def test_new_executor_on_demand(self):
        eid = unique('ctl')
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.bus.address)
        p = subprocess.run([DMSCTL, '--executor', eid, '--config', self.config_file, 'run',
                            IMAGE, '--', 'echo', 'created'], env=env, capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, 'created\n')
        self.assertIn(dmshost.executor_path(eid),
                      [str(x) for x in self.manager.ListExecutors()])
        self.manager.RemoveExecutor(eid, timeout=120)

    def test_help(self):
        for cmd in ('run', 'start', 'wait', 'logs', 'cancel', 'cleanup', 'ls', 'info'):
            with self.subTest(cmd=cmd):
                p = self.ctl(cmd, '--help', check_status=0)
                self.assertIn('Usage: dmsctl ' + cmd, p.stdout)
        p = self.ctl('--help', check_status=0)
        self.assertIn('Commands:', p.stdout)
        self.ctl('bogus', check_status=2)
        self.ctl('run', check_status=2)
        self.ctl('run', '--memory', 'lots', IMAGE, check_status=2)


@dmshost.requires_engine
class Embedded(unittest.TestCase, CtlMixin):
    """A bus with no dms-host on it: dmsctl loads the plugin itself."""

    @classmethod
    def setUpClass(cls):
        cls.bus = dmshost.PrivateBus()
        cls.state_dir = tempfile.mkdtemp(prefix='dms-state-')
        cls.ctl_executor = unique('emb')
        cls.config_file = os.path.join(cls.state_dir, 'executor.yaml')
        with open(cls.config_file, 'w') as f:
            f.write(dmshost.executor_config(cls.state_dir))

    @classmethod
    def tearDownClass(cls):
        try:
            p = cls.ctl(cls, 'cleanup')
            assert p.returncode == 0, 'dmsctl cleanup: exit %d: %s' % (p.returncode, p.stderr)
        finally:
            dmshost.teardown(bus=cls.bus, dirs=[cls.state_dir])

    def test_run(self):
        self.check_run_and_friends('the plugin in-process')

    def test_start_then_wait_across_processes(self):
        # Each dmsctl is a new executor with the same id: `wait` re-attaches
        # the container `start` left running and harvests it.
        p = self.ctl('start', '-f', '-', check_status=0, stdin=json.dumps({
            'job_id': 'emb', 'engine_spec': {'type': 'docker', 'params': {
                'image': IMAGE, 'cmd': ['sh', '-c', 'echo one; sleep 1; exit 5']}}}))
        eid = p.stdout.strip()
        p = self.ctl('--json', 'wait', eid, check_status=5)
        self.assertEqual(json.loads(p.stdout)['stdout'], 'one\n')

    def test_cancel(self):
        self.check_cancel(same_process=False)

    def test_info(self):
        p = self.ctl('--json', 'info', check_status=0)
        self.assertEqual(json.loads(p.stdout)['mode'], 'embedded')


if __name__ == '__main__':
    unittest.main()
