"""test_metrics.py — dms-host's metrics: the manager's Metrics(), dmsctl
metrics, and the textfile (--metrics-textfile, or metrics_textfile: in
dms-host's own --config) read back by Debian's prometheus-node-exporter,
run here with only its textfile collector on 127.0.0.1:<free port> and
scraped over HTTP with deadlines. Counts must follow real jobs on the real
engine: started/finished/failed/cancelled, durations, a pull from a local
registry (bytes and time), errors by category, open log streams and
waiters."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
import urllib.request

import dmshost
from dmshost import (CALL_TIMEOUT, DMSCTL, AsyncReply, EngineHostTestCase, HostTestCase, dbus,
                     job, poll_until, wait_until)
from test_images import (REGISTRY_PASSWORD, REGISTRY_USER, LocalRegistry, free_port,
                         have_registry_tools, push_unique_image, remove_image)

NODE_EXPORTER = shutil.which('prometheus-node-exporter') or '/usr/bin/prometheus-node-exporter'
DEADLINE = 60  # seconds for a value to show up over HTTP

_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def parse(text):
    """Prometheus text -> {(name, ((label, value), ...)): float}; fails on
    a line that is not a comment, a blank or a sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith('#'):
            continue
        m = _LINE.match(line)
        if not m:
            raise AssertionError('not a Prometheus sample line: %r' % line)
        labels = tuple(sorted((k, v.encode().decode('unicode_escape'))
                              for k, v in _LABEL.findall(m.group(2) or '')))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def read_text(path):
    with open(path) as f:
        return f.read()


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


class NodeExporter:
    """prometheus-node-exporter with only the textfile collector, over
    `directory`, on 127.0.0.1:<free port>; our child."""

    def __init__(self, directory):
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix='node-exporter-', suffix='.log',
                                               delete=False)
        self.proc = subprocess.Popen(
            [NODE_EXPORTER, '--collector.disable-defaults', '--collector.textfile',
             '--collector.textfile.directory=' + directory,
             '--web.listen-address=127.0.0.1:%d' % self.port],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        poll_until(self.answers, 30, 'node_exporter on port %d' % self.port)

    def answers(self):
        if self.proc.poll() is not None:
            raise AssertionError('node_exporter exited: ' + read_text(self.log.name))
        try:
            self.scrape_text()
            return True
        except OSError:
            return False

    def scrape_text(self):
        with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % self.port,
                                    timeout=10) as r:
            return r.read().decode()

    def scrape(self):
        text = self.scrape_text()
        # The collector says so when it could not read our file.
        if re.search(r'^node_textfile_scrape_error 1$', text, re.M):
            raise AssertionError('node_exporter could not read the textfile:\n' + text)
        return parse(text)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        os.unlink(self.log.name)


@unittest.skipUnless(os.path.exists(NODE_EXPORTER),
                     'prometheus-node-exporter not installed (scripts/install-deps.sh)')
@dmshost.requires_engine
@unittest.skipUnless(have_registry_tools(), 'docker-registry / htpasswd not installed')
class MetricsThroughNodeExporter(EngineHostTestCase):
    runtime = 'docker'

    @classmethod
    def setUpClass(cls):
        cls.textdir = tempfile.mkdtemp(prefix='dms-textfile-')
        cls.textfile = os.path.join(cls.textdir, 'dms.prom')
        cls.host_args = ('--metrics-textfile', cls.textfile)
        cls.registry = cls.exporter = None
        try:
            cls.exporter = NodeExporter(cls.textdir)
            cls.registry = LocalRegistry()
            cls.extra_config = (
                'registries:\n  - server: "%s"\n    username: %s\n    password: "%s"\n' %
                (cls.registry.server, REGISTRY_USER, REGISTRY_PASSWORD))
            super().setUpClass()
        except BaseException:
            dmshost.teardown(stop=[o for o in (cls.registry, cls.exporter) if o],
                             dirs=[cls.textdir])
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            dmshost.teardown(stop=[cls.registry, cls.exporter], dirs=[cls.textdir])

    def labels(self):
        return {'executor': self.executor_id, 'runtime': 'docker'}

    def http_until(self, what, predicate):
        """Scrapes node_exporter until predicate(samples) holds; returns
        the samples."""
        last = {}

        def check():
            last['s'] = self.exporter.scrape()
            return predicate(last['s'])
        try:
            poll_until(check, DEADLINE, what, interval=0.2)
        except AssertionError:
            raise AssertionError('%s; last scrape: %r' % (what, {
                k: v for k, v in last.get('s', {}).items() if k[0].startswith('dms_')}))
        return last['s']

    def counter(self, samples, name):
        return value(samples, name, **self.labels())

    def test_job_counts_and_durations_follow_jobs(self):
        # The runtime label comes from the engine probe after NewExecutor.
        wait_until(lambda: self.ex_obj.Get(dmshost.EXECUTOR_IFACE, 'Runtime',
                                           dbus_interface=dmshost.PROPS_IFACE) == 'docker',
                   30, 'the Runtime property')
        base = self.exporter.scrape()
        started = self.counter(base, 'dms_jobs_started_total')
        finished = self.counter(base, 'dms_jobs_finished_total')
        count = self.counter(base, 'dms_job_duration_seconds_count')

        # A job that sleeps a little: its duration lands above 0.25 s.
        self.run_job('sleep 0.4; echo one')
        self.run_job('exit 3')  # a non-zero exit is still a finished job
        s = self.http_until('two more started and finished jobs', lambda s: (
            self.counter(s, 'dms_jobs_started_total') == started + 2 and
            self.counter(s, 'dms_jobs_finished_total') == finished + 2 and
            self.counter(s, 'dms_job_duration_seconds_count') == count + 2))
        le = dict(self.labels(), le='0.25')
        # At most the `exit 3` job is that fast; the 0.4 s one is not.
        self.assertLessEqual(value(s, 'dms_job_duration_seconds_bucket', **le),
                             value(base, 'dms_job_duration_seconds_bucket', **le) + 1,
                             'the 0.4 s job is counted at or below le=0.25: %r' % s)
        self.assertGreaterEqual(self.counter(s, 'dms_job_duration_seconds_sum') -
                                self.counter(base, 'dms_job_duration_seconds_sum'),
                                0.35)  # the engine's stamps: 0.399 s seen for `sleep 0.4`
        self.assertEqual(value(s, 'dms_jobs_started_total', **self.labels()), started + 2)

        # The file node_exporter read was renamed into place whole.
        self.assertFalse(os.path.exists(self.textfile + '.tmp'))
        parse(read_text(self.textfile))

    def test_cancel_waiters_and_open_log_streams(self):
        base = self.exporter.scrape()
        cancelled = self.counter(base, 'dms_jobs_cancelled_total')
        eid, req = job('echo started; sleep 300')
        self.ex.Start(req, timeout=CALL_TIMEOUT)
        waiter = AsyncReply()
        self.ex.Wait(eid, timeout=CALL_TIMEOUT, **waiter.handlers())
        fd = self.ex.GetLogStream(json.dumps({'execution_id': eid, 'follow': True}),
                                  timeout=CALL_TIMEOUT).take()
        try:
            self.http_until('a waiter and an open log stream', lambda s: (
                value(s, 'dms_waiters') == 1 and value(s, 'dms_log_streams_open') == 1))
            self.ex.Cancel(eid, timeout=CALL_TIMEOUT)
            wait_until(lambda: waiter.done, CALL_TIMEOUT, 'the Wait reply')
            dmshost.read_frames(fd, CALL_TIMEOUT)  # EOF: the plugin closed its end
        finally:
            os.close(fd)
        self.http_until('a cancelled job, no waiter, no open stream', lambda s: (
            self.counter(s, 'dms_jobs_cancelled_total') == cancelled + 1 and
            value(s, 'dms_waiters') == 0 and value(s, 'dms_log_streams_open') == 0))

    def test_failed_job_and_error_category(self):
        base = self.exporter.scrape()
        failed = self.counter(base, 'dms_jobs_failed_total')
        image_errors = value(base, 'dms_errors_total', category='Image')
        _, req = job('true', image='dms-test/no-such-image:%d' % os.getpid(),
                     pull_policy='never')
        with self.assertRaises(dbus.DBusException) as cm:
            self.ex.Run(req, timeout=CALL_TIMEOUT)
        self.assertEqual(cm.exception.get_dbus_name(), 'org.dms.Error.Image')
        self.http_until('a failed job and an Image error', lambda s: (
            self.counter(s, 'dms_jobs_failed_total') == failed + 1 and
            value(s, 'dms_errors_total', category='Image') == image_errors + 1))

    def test_pull_bytes_and_time(self):
        ref = push_unique_image(self.registry, 'docker', 'm%d' % os.getpid(), 4 << 20)
        self.addCleanup(remove_image, 'docker', ref)
        base = self.exporter.scrape()
        pulls = self.counter(base, 'dms_image_pulls_total')
        nbytes = self.counter(base, 'dms_image_pull_bytes_total')
        self.run_job('true', image=ref)
        s = self.http_until('one more pull', lambda s: (
            self.counter(s, 'dms_image_pulls_total') == pulls + 1))
        # The layer carries 4 MiB of random bytes: its compressed size too.
        self.assertGreaterEqual(self.counter(s, 'dms_image_pull_bytes_total') - nbytes, 4 << 20)
        self.assertEqual(self.counter(s, 'dms_image_pull_duration_seconds_count'),
                         self.counter(base, 'dms_image_pull_duration_seconds_count') + 1)

    def test_dbus_method_and_dmsctl_agree_with_the_file(self):
        self.run_job('true')
        over_bus = parse(str(self.manager.Metrics(timeout=CALL_TIMEOUT)))
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.bus.address)
        p = subprocess.run([DMSCTL, 'metrics'], env=env, capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        by_ctl = parse(p.stdout)
        name = 'dms_jobs_started_total'
        self.assertGreaterEqual(self.counter(over_bus, name), 1)
        self.assertEqual(self.counter(by_ctl, name), self.counter(over_bus, name))
        self.http_until('the file to catch up with Metrics()', lambda s: (
            self.counter(s, name) == self.counter(over_bus, name)))
        self.assertEqual(value(over_bus, 'dms_executors'), 1)


class MetricsTextfileFromConfig(HostTestCase):
    """metrics_textfile: in dms-host's own --config file (the operator's):
    dms-host takes the line, the executor never sees it."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix='dms-textfile-')
        cls.textfile = os.path.join(cls.dir, 'from-config.prom')
        conf = os.path.join(cls.dir, 'host.yaml')
        with open(conf, 'w') as f:
            f.write(dmshost.executor_config(os.path.join(cls.dir, 'state')) +
                    'metrics_textfile: "%s"\n' % cls.textfile)
        cls.host_args = ('--config', conf, '--executor', 'op')
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.dir, ignore_errors=True)

    def test_the_file_is_written_and_follows_a_job(self):
        op = dbus.Interface(self.conn.get_object(dmshost.BUS_NAME, dmshost.executor_path('op')),
                            dmshost.EXECUTOR_IFACE)
        _, req = job('true')
        op.Run(req, timeout=CALL_TIMEOUT)

        def counted():
            if not os.path.exists(self.textfile):
                return False
            s = parse(read_text(self.textfile))
            return sum(v for (n, lab), v in s.items()
                       if n == 'dms_jobs_finished_total' and ('executor', 'op') in lab) == 1
        poll_until(counted, DEADLINE, 'the textfile to count the job of "op"')

    def test_a_bus_caller_cannot_set_it(self):
        # A NewExecutor config is a caller's: the key is not the host's there.
        msg = self.assertDBusError('org.dms.Error.Config', self.manager.NewExecutor, 'caller',
                                   self.config + 'metrics_textfile: /tmp/x.prom\n')
        self.assertIn('metrics_textfile', msg)


class MetricsTextfileRefused(unittest.TestCase):
    def test_an_unwritable_textfile_stops_dms_host_naming_it(self):
        bus = dmshost.PrivateBus()
        path = '/nonexistent-dir-%d/dms.prom' % os.getpid()
        try:
            host = dmshost.Host(bus, ['--metrics-textfile', path], wait_for_name=False)
            status, log = host.wait_exit(30)
        finally:
            bus.stop()
        self.assertEqual(status, 1, log)
        self.assertIn(path, log)
        self.assertIn('No such file or directory', log)


if __name__ == '__main__':
    unittest.main()
