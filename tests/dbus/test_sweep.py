"""test_sweep.py — the scoped orphan sweep (docs/robustness.md) against the
real engine ($DMS_DOCKER_HOST), through dms-host: two executors with
different ids on one engine, each with an orphan container, network and
volume labelled as its own (made directly on the engine, as a crash would
leave them), plus a container without labels.

- executor A (sweep_interval 1s, sweep_grace 2s) removes its own three
  orphans (the engine's destroy events say so), and nothing else: B's
  objects, the unlabelled container and A's own running job survive;
- executor B (sweep_dry_run) only reports what it would remove, in the
  host's log, and removes nothing.
"""
import json
import os
import tempfile
import time
import unittest

import dmshost
from dmshost import (BUS_NAME, CALL_TIMEOUT, EXECUTOR_IFACE, MANAGER_IFACE, MANAGER_PATH,
                     dbus, poll_until)

SWEEP = 'sweep_interval: 1s\nsweep_grace: 2s\n'


@dmshost.requires_engine
class Sweep(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(dmshost.PLUGIN):
            raise AssertionError('the plugin is not built: ' + dmshost.PLUGIN)
        cls.api = dmshost.EngineAPI(dmshost.DOCKER_HOST[len('unix://'):])
        cls.state_dir = tempfile.mkdtemp(prefix='dms-sweep-state-')
        cls.bus = dmshost.PrivateBus()
        try:
            cls.host = dmshost.Host(cls.bus)
        except Exception:
            dmshost.teardown(bus=cls.bus, dirs=[cls.state_dir])
            raise
        cls.conn = cls.bus.connect()
        cls.manager = dbus.Interface(cls.conn.get_object(BUS_NAME, MANAGER_PATH), MANAGER_IFACE)
        cls.ids = {'a': dmshost.unique('swA'), 'b': dmshost.unique('swB')}
        cls.ex = {}
        for k, extra in (('a', SWEEP), ('b', SWEEP + 'sweep_dry_run: true\n')):
            path = cls.manager.NewExecutor(cls.ids[k], dmshost.executor_config(cls.state_dir) +
                                           extra, timeout=CALL_TIMEOUT)
            cls.ex[k] = dbus.Interface(cls.conn.get_object(BUS_NAME, path), EXECUTOR_IFACE)
        cls.made = []  # (kind, id) made by the test, removed at the end

    @classmethod
    def tearDownClass(cls):
        try:
            for kind, ident in cls.made:
                cls.api.remove(kind, ident)
        finally:
            dmshost.teardown(conn=cls.conn, host=cls.host, bus=cls.bus,
                             executors=[(ex, cls.manager, cls.ids[k])
                                        for k, ex in cls.ex.items()],
                             dirs=[cls.state_dir])

    # --- objects made behind the executors' backs -------------------------

    def labels(self, owner, execution):
        return {'org.dms.executor': self.ids[owner], 'org.dms.execution': execution,
                'org.dms.job': 'j-' + execution} if owner else {}

    def container(self, owner, execution):
        return self.make('container', owner, execution)

    def network(self, owner, execution):
        return self.make('network', owner, execution)

    def volume(self, owner, execution):
        return self.make('volume', owner, execution)

    def make(self, kind, owner, execution):
        ident = self.api.create(kind, self.labels(owner, execution),
                                name=dmshost.unique('sweep-' + kind[:3]))
        self.made.append((kind, ident))
        return ident

    def exists(self, kind, ident):
        return self.api.exists(kind, ident)

    # --- the test ------------------------------------------------------------

    def test_each_executor_sweeps_only_its_own(self):
        # A's event stream is up (Run learns the exit from it) and its resync
        # done: containers made from now on are not adopted as jobs.
        _, req = dmshost.job('echo ready')
        self.assertEqual(json.loads(self.ex['a'].Run(req, timeout=CALL_TIMEOUT))['exit_code'], 0)
        _, req = dmshost.job('echo ready')
        self.assertEqual(json.loads(self.ex['b'].Run(req, timeout=CALL_TIMEOUT))['exit_code'], 0)
        live_id, req = dmshost.job('sleep 600')
        self.ex['a'].Start(req, timeout=CALL_TIMEOUT)

        # The orphans name executions recovery would not adopt (not valid
        # ids): a resync (on any reconnect of an event stream) would adopt
        # a running one as a job, or remove a created one itself.
        since = time.time()
        a = {'container': self.container('a', 'gone a'), 'network': self.network('a', 'gone a'),
             'volume': self.volume('a', 'gone a')}
        b = {'container': self.container('b', 'gone b'), 'network': self.network('b', 'gone b'),
             'volume': self.volume('b', 'gone b')}
        plain = self.container(None, None)

        # A removes its three, after the grace.
        for kind, ident in a.items():
            ev = self.api.wait_event(since, 60, type=[kind], event=['destroy'],
                                     **{kind: [ident]})
            self.assertIsNotNone(ev, "A's orphan %s %s was not removed within 60 s\n%s" %
                                 (kind, ident, self.host.read_log()[-2000:]))
            self.assertGreaterEqual(ev['time'], int(since) + 2 - 1,
                                    '%s %s removed before the 2 s grace' % (kind, ident))
            # (logged right after the engine answered the removal)
            poll_until(lambda: ('sweep: removed %s %s' % (kind, ident)) in self.host.read_log(),
                       30, 'the sweep to log the removal of %s %s' % (kind, ident))
        # B reports its three (dry run) and removes nothing; nothing else
        # was touched by either.
        for kind, ident in b.items():
            poll_until(lambda: ('would remove %s %s' % (kind, ident)) in self.host.read_log(), 60,
                       "B's dry-run report of %s %s" % (kind, ident))
        for kind, ident in list(b.items()) + [('container', plain)]:
            self.assertTrue(self.exists(kind, ident), '%s %s was removed' % (kind, ident))
        live = self.api.containers('org.dms.execution=' + live_id)
        self.assertEqual([c['State'] for c in live], ['running'], "A's live job: %r" % live)
        self.ex['a'].Cancel(live_id, timeout=CALL_TIMEOUT)


if __name__ == '__main__':
    unittest.main()
