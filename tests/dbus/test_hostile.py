"""test_hostile.py — requests that try to reach the host, over D-Bus through
dms-host, on Docker and on Podman (docs/security.md).

Each attempt is one request a hostile peer could send. Under an operator's
restrictive policy every one is refused with org.dms.Error.PermissionDenied
whose message names the request field and the policy key; then, on the
engine, no container, network or volume of the executor exists, and on the
host no file was written outside the results root. Then the same requests
go to an executor whose config allows them explicitly, and those a policy
can allow run (the rest stay refused whatever the policy: the engine's
socket, links below the results root). The counts are printed.

Also the request of issue 16 with the default config: refused, nothing
made, no /tmp/probe."""
import json
import os
import shutil
import tempfile
import unittest

import dmshost
from dmshost import (BUS_NAME, CALL_TIMEOUT, ENGINE_HOSTS, EXECUTOR_IFACE, IMAGE,
                     EngineHostTestCase, dbus, engine_api)

DENIED = 'org.dms.Error.PermissionDenied'
CAPS = ['SYS_ADMIN', 'SYS_PTRACE', 'SYS_MODULE', 'SYS_RAWIO', 'DAC_READ_SEARCH', 'NET_ADMIN',
        'SYS_BOOT', 'SYS_TIME', 'SYSLOG', 'MAC_ADMIN', 'LINUX_IMMUTABLE', 'ALL']
HOST_PATHS = ['/', '/etc', '/etc/shadow', '/root', '/proc', '/proc/self/root', '/sys',
              '/sys/fs/cgroup', '/dev', '/dev/null', '/var/lib', '/usr', '/tmp']
ISSUE_REQUEST = {
    'job_id': 'issue-16', 'execution_id': None,
    'engine_spec': {'type': 'docker', 'params': {
        'image': IMAGE, 'entrypoint': ['/bin/sh', '-c'],
        'cmd': ['echo pwned > /host/tmp/probe'], 'cap_add': ['SYS_ADMIN'],
        'network_mode': 'host', 'user': '0'}},
    'inputs': [{'source': '/', 'target': '/host', 'read_only': False}]}


class Attempt:
    """One escape attempt: how it changes a harmless request, the field and
    the policy key its refusal must name, and whether a policy can allow
    it (then it must run under the permissive one)."""

    def __init__(self, name, change, field, key, allowable=True):
        self.name, self.change, self.field, self.key = name, change, field, key
        self.allowable = allowable


def params(**kw):
    def change(doc):
        doc['engine_spec']['params'].update(kw)
    return change


def top(**kw):
    def change(doc):
        doc.update(kw)
    return change


class HostileMixin:
    """Needs self.runtime (EngineHostTestCase)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.base = tempfile.mkdtemp(prefix='dms-hostile-')
        cls.inputs = os.path.join(cls.base, 'inputs')
        cls.root = os.path.join(cls.base, 'results')      # the restrictive results_root
        cls.victims = os.path.join(cls.base, 'victims')   # where links point
        for d in (cls.inputs, cls.root, cls.victims):
            os.makedirs(d)
        with open(os.path.join(cls.inputs, 'data'), 'w') as f:
            f.write('input\n')
        cls.socket = ENGINE_HOSTS[cls.runtime][len('unix://'):]
        os.symlink('/etc', os.path.join(cls.inputs, 'escape'))
        os.symlink('..', os.path.join(cls.inputs, 'up'))
        os.symlink(cls.socket, os.path.join(cls.inputs, 'sock'))
        for v in ('dir', 'leaf', 'out', 'nested'):
            os.makedirs(os.path.join(cls.victims, v))
        os.symlink(os.path.join(cls.victims, 'dir'), os.path.join(cls.root, 'link'))
        os.symlink(os.path.join(cls.victims, 'leaf'), os.path.join(cls.root, 'leaf'))
        os.makedirs(os.path.join(cls.root, 'r-out'))
        os.symlink(os.path.join(cls.victims, 'out'), os.path.join(cls.root, 'r-out', 'out'))
        os.makedirs(os.path.join(cls.root, 'r-nested'))
        os.symlink(os.path.join(cls.victims, 'nested'),
                   os.path.join(cls.root, 'r-nested', 'a'))
        cls.cron_before = sorted(os.listdir('/etc/cron.d')) if os.path.isdir('/etc/cron.d') \
            else None
        cls.restrictive = cls.new_ex(
            'policy:\n'
            '  bind_roots: [%s]\n'
            '  results_root: %s\n'
            '  run_as_non_root: true\n'
            '  images: ["%s"]\n'
            '  max: {cpu: 1, memory: 256MiB, pids: 256}\n' % (
                json.dumps(cls.inputs), json.dumps(cls.root), IMAGE))
        cls.permissive = cls.new_ex(
            'policy:\n'
            '  bind_roots: ["/"]\n'
            '  results_root: %s\n'
            '  cap_add: [ALL]\n'
            '  host_network: true\n'
            '  images: ["*"]\n'
            '  gpus: true\n'
            '  ports: {min: 1, max: 65535}\n'
            '  allow_privilege_escalation: true\n'
            '  max: {environment: 1MiB, labels: 32KiB}\n' % json.dumps(cls.base))

    @classmethod
    def new_ex(cls, policy):
        eid = dmshost.unique('hostile-' + cls.runtime)
        path = cls.manager.NewExecutor(eid, cls.engine_config(policy), timeout=CALL_TIMEOUT)
        cls.made = getattr(cls, 'made', []) + [eid]
        return eid, dbus.Interface(cls.conn.get_object(BUS_NAME, path), EXECUTOR_IFACE)

    @classmethod
    def tearDownClass(cls):
        api = engine_api(cls.runtime)
        for eid in getattr(cls, 'made', []):
            try:
                cls.manager.RemoveExecutor(eid, timeout=CALL_TIMEOUT)
            except dbus.DBusException:
                pass
            for kind in ('container', 'network', 'volume'):
                for o in api.objects(kind, 'org.dms.executor=' + eid):
                    api.remove(kind, o)
        shutil.rmtree(cls.base, True)
        super().tearDownClass()

    # --- the attempts -------------------------------------------------------

    def attempts(self):
        a = []
        for p in HOST_PATHS:
            # Those that are or hold an engine socket stay refused.
            holds = p in ('/', '/proc/self/root', '/tmp')
            a.append(Attempt('bind %s' % p, top(inputs=[{'source': p, 'target': '/in'}]),
                             'inputs[0].source', 'policy.bind_roots', not holds))
        a.append(Attempt('bind the engine socket',
                         top(inputs=[{'source': self.socket, 'target': '/in'}]),
                         'inputs[0].source', 'policy.bind_roots', False))
        a.append(Attempt('bind the engine socket\'s directory',
                         top(inputs=[{'source': os.path.dirname(self.socket), 'target': '/in'}]),
                         'inputs[0].source', 'policy.bind_roots', False))
        a.append(Attempt('bind a symlink out of the root',
                         top(inputs=[{'source': os.path.join(self.inputs, 'escape'),
                                      'target': '/in'}]),
                         'inputs[0].source', 'policy.bind_roots'))
        a.append(Attempt('bind ".." through a symlink',
                         top(inputs=[{'source': os.path.join(self.inputs, 'up', 'victims'),
                                      'target': '/in'}]),
                         'inputs[0].source', 'policy.bind_roots'))
        a.append(Attempt('bind a symlink to the engine socket',
                         top(inputs=[{'source': os.path.join(self.inputs, 'sock'),
                                      'target': '/in'}]),
                         'inputs[0].source', 'policy.bind_roots', False))
        a.append(Attempt('bind a second input outside the root',
                         top(inputs=[{'source': os.path.join(self.inputs, 'data'),
                                      'target': '/a'},
                                     {'source': '/etc/passwd', 'target': '/b'}]),
                         'inputs[1].source', 'policy.bind_roots'))
        a.append(Attempt('results_dir /etc/cron.d', top(results_dir='/etc/cron.d'),
                         'results_dir', 'policy.results_root', False))
        a.append(Attempt('results_dir outside the root',
                         top(results_dir=os.path.join(self.base, 'outside', 'r')),
                         'results_dir', 'policy.results_root'))
        a.append(Attempt('results_dir the root itself', top(results_dir=self.root),
                         'results_dir', 'policy.results_root'))
        a.append(Attempt('results_dir through a symlinked directory',
                         top(results_dir=os.path.join(self.root, 'link', 'r')),
                         'results_dir', 'policy.results_root', False))
        a.append(Attempt('results_dir a symlink',
                         top(results_dir=os.path.join(self.root, 'leaf')),
                         'results_dir', 'policy.results_root', False))
        a.append(Attempt('an output directory that is a symlink',
                         top(results_dir=os.path.join(self.root, 'r-out'),
                             outputs=[{'source': 'out', 'target': '/out'}]),
                         'outputs[0].source', 'policy.results_root', False))
        a.append(Attempt('an output below a symlink',
                         top(results_dir=os.path.join(self.root, 'r-nested'),
                             outputs=[{'source': 'a/b', 'target': '/out'}]),
                         'outputs[0].source', 'policy.results_root', False))
        for cap in CAPS:
            # ALL: allowed by the permissive policy, but the engines here
            # run in a container without every capability to hand out.
            a.append(Attempt('cap_add %s' % cap, params(cap_add=[cap]),
                             'engine_spec.params.cap_add[0]', 'policy.cap_add', cap != 'ALL'))
        a.append(Attempt('host network', params(network_mode='host'),
                         'engine_spec.params.network_mode', 'policy.host_network'))
        for user in ('0', 'root', '0:0'):
            a.append(Attempt('user %s' % user, params(user=user), 'engine_spec.params.user',
                             'policy.run_as_non_root'))
        a.append(Attempt('no user, the image runs as root', params(user=None),
                         'engine_spec.params.image', 'policy.run_as_non_root'))
        a.append(Attempt('image by id', params(image=self.image_id()),
                         'engine_spec.params.image', 'policy.images'))
        a.append(Attempt('image without its tag', params(image=IMAGE.rsplit(':', 1)[0]),
                         'engine_spec.params.image', 'policy.images'))
        a.append(Attempt('image from another registry',
                         params(image='localhost:1/dms-test/busybox:latest'),
                         'engine_spec.params.image', 'policy.images', False))
        a.append(Attempt('cpu above the ceiling', top(resources={'cpu': {'cores': 1.5}}),
                         'resources.cpu.cores', 'policy.max.cpu'))
        a.append(Attempt('memory above the ceiling',
                         top(resources={'memory': {'size': '1GiB'}}),
                         'resources.memory.size', 'policy.max.memory'))
        a.append(Attempt('pids above the ceiling', top(resources={'pids': {'limit': 100000}}),
                         'resources.pids.limit', 'policy.max.pids'))
        for port in (80, 443, 1023):
            a.append(Attempt('host port %d' % port,
                             params(network_mode='isolated',
                                    ports=[{'container_port': 80, 'host_port': port,
                                            'host_ip': '127.0.0.1'}]),
                             'engine_spec.params.ports[0].host_port', 'policy.ports'))
        a.append(Attempt('no_new_privileges off', params(no_new_privileges=False),
                         'engine_spec.params.no_new_privileges',
                         'policy.allow_privilege_escalation'))
        a.append(Attempt('a GPU', top(resources={'gpus': [{'vendor': 'nvidia', 'count': 1}]}),
                         'resources.gpus', 'policy.gpus', False))
        a.append(Attempt('oversized environment',
                         params(environment=['E%d=%s' % (i, 'x' * 100000) for i in range(3)]),
                         'engine_spec.params.environment', 'policy.max.environment'))
        a.append(Attempt('oversized labels',
                         params(labels={'l%d' % i: 'y' * 10000 for i in range(2)}),
                         'engine_spec.params.labels', 'policy.max.labels'))
        return a

    def image_id(self):
        status, body = engine_api(self.runtime).json('GET', '/images/%s/json' % IMAGE)
        self.assertEqual(status, 200, body)
        return body['Id'] if body['Id'].startswith('sha256:') else 'sha256:' + body['Id']

    def request(self, attempt, eid, user='1000'):
        """The attempt on a harmless request. Under the restrictive policy
        the request runs as uid 1000 (run_as_non_root); the test image's
        files are root's only, so under the permissive one it runs as the
        image's user."""
        doc = {'job_id': 'j-' + eid, 'execution_id': eid,
               'engine_spec': {'type': 'docker', 'params': {
                   'image': IMAGE, 'entrypoint': ['/bin/sh', '-c'], 'cmd': ['exit 0'],
                   'user': user}}}
        attempt.change(doc)
        p = doc['engine_spec']['params']
        if p.get('user') is None:
            p.pop('user')
        return json.dumps(doc)

    # --- checks -------------------------------------------------------------

    def assertNothingOnTheEngine(self, executor_id):
        api = engine_api(self.runtime)
        for kind in ('container', 'network', 'volume'):
            left = api.objects(kind, 'org.dms.executor=' + executor_id)
            self.assertEqual(left, [], '%s objects left by refused requests: %r' % (kind, left))

    def assertNothingWrittenOutsideTheRoot(self, root_is_base=False):
        for v in os.listdir(self.victims):
            self.assertEqual(os.listdir(os.path.join(self.victims, v)), [],
                             'a refused request wrote into %s' % v)
        if not root_is_base:
            self.assertFalse(os.path.exists(os.path.join(self.base, 'outside')))
        if self.cron_before is not None:
            self.assertEqual(sorted(os.listdir('/etc/cron.d')), self.cron_before)
        for name in ('stdout', 'stderr', 'exitCode'):
            self.assertFalse(os.path.exists(os.path.join('/etc/cron.d', name)))

    def test_a_refused_under_a_restrictive_policy(self):
        eid_ex, ex = self.restrictive
        attempts = self.attempts()
        self.assertGreaterEqual(len(attempts), 40)
        self.assertEqual(len({a.name for a in attempts}), len(attempts), 'duplicate names')
        wrong = []
        for a in attempts:
            eid = dmshost.unique('h')
            try:
                ex.Start(self.request(a, eid), timeout=CALL_TIMEOUT)
                wrong.append('%s: started' % a.name)
                ex.Cancel(eid, timeout=CALL_TIMEOUT)
                continue
            except dbus.DBusException as e:
                name, msg = e.get_dbus_name(), e.get_dbus_message()
            if name != DENIED or not msg.startswith(a.field + ':') or a.key not in msg:
                wrong.append('%s: %s: %s (want %s naming %s and %s)'
                             % (a.name, name, msg, DENIED, a.field, a.key))
        self.assertEqual(wrong, [], '\n'.join(wrong))
        self.assertNothingOnTheEngine(eid_ex)
        self.assertNothingWrittenOutsideTheRoot()
        print('\nhostile %s: %d attempts, %d refused with PermissionDenied naming field and '
              'key; 0 containers, networks, volumes; 0 files outside the results root'
              % (self.runtime, len(attempts), len(attempts) - len(wrong)))

    def test_b_allowed_under_a_permissive_policy(self):
        eid_ex, ex = self.permissive
        attempts = self.attempts()
        ran, refused, wrong = 0, 0, []
        for a in attempts:
            eid = dmshost.unique('p')
            if not a.allowable:
                # A policy cannot allow it: still refused, or (the
                # registry nobody runs, a GPU this host lacks) the engine
                # side fails, with nothing left behind.
                try:
                    ex.Run(self.request(a, eid, None), timeout=CALL_TIMEOUT)
                    wrong.append('%s: ran under the permissive policy' % a.name)
                except dbus.DBusException as e:
                    refused += 1
                    if e.get_dbus_name() == DENIED and not e.get_dbus_message().startswith(
                            a.field + ':'):
                        wrong.append('%s: %s' % (a.name, e.get_dbus_message()))
                continue
            try:
                res = json.loads(ex.Run(self.request(a, eid, None), timeout=CALL_TIMEOUT))
            except dbus.DBusException as e:
                wrong.append('%s: %s: %s' % (a.name, e.get_dbus_name(), e.get_dbus_message()))
                continue
            if res.get('exit_code') != 0:
                wrong.append('%s: exit %r: %s' % (a.name, res.get('exit_code'), res))
            else:
                ran += 1
        self.assertEqual(wrong, [], '\n'.join(wrong))
        self.assertNothingWrittenOutsideTheRoot(root_is_base=True)
        print('\nhostile %s, permissive policy: %d of %d ran (exit 0); %d stay refused or '
              'fail on the engine whatever the policy' % (self.runtime, ran, len(attempts),
                                                           refused))

    def test_c_the_issue_request_with_the_default_config(self):
        """Issue 16's request, on an executor with no policy block at all."""
        probe = '/tmp/probe'
        self.assertFalse(os.path.exists(probe), '%s exists before the test' % probe)
        doc = dict(ISSUE_REQUEST, execution_id=dmshost.unique('issue16'))
        doc['engine_spec'] = dict(ISSUE_REQUEST['engine_spec'], type=self.runtime)
        msg = self.assertDBusError(DENIED, self.ex.Start, json.dumps(doc))
        self.assertEqual(msg, 'inputs[0].source: "/" is not under policy.bind_roots '
                              '(none allowed)')
        print('\nissue 16 request, default config, %s: %s: %s' % (self.runtime, DENIED, msg))
        self.assertNothingOnTheEngine(self.executor_id)
        self.assertFalse(os.path.exists(probe), 'the refused job wrote ' + probe)


@dmshost.requires_engine
class TestHostileDocker(HostileMixin, EngineHostTestCase):
    runtime = 'docker'


@dmshost.requires_engine
class TestHostilePodman(HostileMixin, EngineHostTestCase):
    runtime = 'podman'


if __name__ == '__main__':
    unittest.main()
