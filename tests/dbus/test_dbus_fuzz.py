"""test_dbus_fuzz.py — hostile D-Bus clients against a running dms-host: a
seeded storm of random and malformed method calls (wrong argument types
including unix fds, unknown and odd object paths, interfaces and members,
mutated, huge and deeply nested JSON and YAML), clients that vanish while
their Wait or their log stream is pending, a log fd that is never read.
After each, the daemon still answers, every call got a reply, and its open
fds (/proc/<pid>/fd) come back to the baseline (within the engine
connection pool's slack); after the last, its threads (/proc/<pid>/task)
come back exactly to the idle count once idle pool workers have exited
(they do after 30 s idle: checked once, at the end, not after each test).

The engine is $DMS_DOCKER_HOST (the shared test engine): nothing here
stops it. Seed: $DMS_DBUS_FUZZ_SEED (default: fixed), count:
$DMS_DBUS_FUZZ_CALLS (default 3000)."""
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

import dmshost
from dmshost import (BUS_NAME, CALL_TIMEOUT, EXECUTOR_IFACE, MANAGER_IFACE, MANAGER_PATH,
                     AsyncReply, dbus, poll_until, wait_until)

SEED = int(os.environ.get('DMS_DBUS_FUZZ_SEED', '20240611'))
CALLS = int(os.environ.get('DMS_DBUS_FUZZ_CALLS', '3000'))
# The host's idle pool workers exit after 30 s (host/pool.c).
IDLE_DEADLINE = 120
FD_SLACK = 4
EXECUTOR_THREADS = 5  # events, janitor, 2 workers, the stats sampler (docs/architecture.md)

FD = 'org.freedesktop.DBus.Error.'
PROPS = 'org.freedesktop.DBus.Properties'
INTRO = 'org.freedesktop.DBus.Introspectable'
PEER = 'org.freedesktop.DBus.Peer'

NO_IMAGE = 'dms-test/no-such-image:0'


def fds_of(pid):
    return len(os.listdir('/proc/%d/fd' % pid))


def threads_of(pid):
    return len(os.listdir('/proc/%d/task' % pid))


def design_request(rng):
    """A valid request whose image does not exist and is never pulled."""
    eid = 'fz-%d' % rng.randrange(10 ** 9)
    return {'job_id': 'j-' + eid, 'execution_id': eid,
            'engine_spec': {'type': 'docker',
                            'params': {'image': NO_IMAGE, 'pull_policy': 'never',
                                       'entrypoint': ['/bin/sh', '-c'], 'cmd': ['true'],
                                       'environment': ['A=1'], 'working_directory': '/'}},
            'resources': {'cpu': {'cores': 0.5}, 'memory': {'size': 67108864}, 'gpus': []}}


def mutate(rng, text):
    """Random byte-level edits of a JSON text (kept printable ASCII, as
    D-Bus strings must be valid UTF-8 without NUL)."""
    b = bytearray(text.encode())
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(4)
        i = rng.randrange(len(b) + 1)
        if op == 0 and b:
            del b[min(i, len(b) - 1)]
        elif op == 1:
            b.insert(i, rng.choice(b'{}[]:,"\\ \n0123456789-.eEtrufalsn'))
        elif op == 2 and b:
            b[min(i, len(b) - 1)] = rng.randrange(0x20, 0x7f)
        else:
            j = rng.randrange(len(b) + 1)
            b[i:i] = b[min(i, j):max(i, j)][:64]
    return b.decode('ascii', errors='replace')


def hostile_strings(rng):
    req = design_request(rng)
    return [
        '', ' ', '{', '}', '{}', '[]', 'null', 'true', '0', '"x"', '\t\n', '---', '...',
        '{"a":' * 5000 + '1' + '}' * 5000,          # deep JSON
        '[' * 100000,                                # deeper, unterminated
        '- ' * 20000 + 'x',                          # deep YAML sequence
        '{a: ' * 5000 + '1' + '}' * 5000,            # deep YAML flow mapping
        'a: &x [' + '*x, ' * 1000 + ']',             # YAML alias bomb-ish
        '{"execution_id": "%s"}' % ('e' * 100000),   # huge id
        json.dumps(req),
        json.dumps(req).replace('"execution_id"', '"execution\\u005fid"'),
        json.dumps(dict(req, execution_id='../../etc')),
        json.dumps(dict(req, execution_id='a\u00e9')),
        json.dumps(req)[:-1] + ', "execution_id": "dup"}',
        json.dumps(dict(req, job_id=None)),
        'x' * (2 * 1024 * 1024),                     # beyond the 1 MiB request limit
        mutate(rng, json.dumps(req)),
        mutate(rng, json.dumps({'execution_id': 'e1', 'follow': True, 'lines': 3})),
        '\u2028\u2029\ufeff{"job_id":"\U0001f600"}',
    ]


SIGNATURES = ['', 's', 'ss', 'sss', 'i', 'u', 'x', 'd', 'b', 'y', 'o', 'g', 'as', 'ay',
              'a{sv}', 'a{ss}', 'v', 'h', 'sh', '(ss)', 'aas', 'si', 'is']


def random_value(rng, code, strings, fds):
    if code == 's':
        return rng.choice(strings)
    if code == 'i':
        return dbus.Int32(rng.randint(-2 ** 31, 2 ** 31 - 1))
    if code == 'u':
        return dbus.UInt32(rng.randint(0, 2 ** 32 - 1))
    if code == 'x':
        return dbus.Int64(rng.randint(-2 ** 63, 2 ** 63 - 1))
    if code == 'd':
        return dbus.Double(rng.choice([0.0, -1.5, 1e308, float('inf'), float('nan')]))
    if code == 'b':
        return dbus.Boolean(rng.random() < 0.5)
    if code == 'y':
        return dbus.Byte(rng.randrange(256))
    if code == 'o':
        return dbus.ObjectPath(rng.choice(['/', '/org/dms/Executor', '/a/b_c/d']))
    if code == 'g':
        return dbus.Signature(rng.choice(['', 's', 'a{sv}']))
    if code == 'h':
        return dbus.types.UnixFd(rng.choice(fds))
    raise ValueError(code)


def random_args(rng, sig, strings, fds):
    args = []
    i = 0
    while i < len(sig):
        c = sig[i]
        if c == 'a' and sig[i + 1] == '{':
            args.append(dbus.Dictionary({'k%d' % n: dbus.String(rng.choice(strings)[:100])
                                         for n in range(rng.randrange(4))},
                                        signature='s' + sig[i + 3]))
            i += 5
        elif c == 'a' and sig[i + 1] == 'a':
            args.append(dbus.Array([dbus.Array(['x'], signature='s')], signature='as'))
            i += 3
        elif c == 'a':
            inner = sig[i + 1]
            args.append(dbus.Array([random_value(rng, inner, strings, fds)
                                    for _ in range(rng.randrange(5))], signature=inner))
            i += 2
        elif c == '(':
            args.append(dbus.Struct((rng.choice(strings)[:50], 'y'), signature='ss'))
            i += 4
        elif c == 'v':
            args.append(rng.choice([dbus.String('v'), dbus.Int32(7),
                                    dbus.Array([], signature='s')]))
            i += 1
        else:
            args.append(random_value(rng, c, strings, fds))
            i += 1
    return args


# A client in its own process: calls Wait (or GetLogStream), makes sure the
# host has registered it (an IsInstalled on the same connection returns after
# the Wait was dispatched: one sender's messages are handled in order), says
# so, then waits to be killed.
VANISHING_CLIENT = textwrap.dedent('''
    import sys, json
    sys.path.append("/usr/lib/python3/dist-packages")
    import dbus
    from dbus.mainloop.glib import DBusGMainLoop
    from gi.repository import GLib
    DBusGMainLoop(set_as_default=True)
    c = dbus.bus.BusConnection(sys.argv[1])
    path, what, eid = sys.argv[2], sys.argv[3], sys.argv[4]
    ex = dbus.Interface(c.get_object("%(bus)s", path), "%(iface)s")
    held = []
    if what == "wait":
        ex.Wait(eid, timeout=3600, reply_handler=lambda r: None, error_handler=lambda e: None)
    else:
        held.append(ex.GetLogStream(json.dumps({"execution_id": eid, "follow": True}),
                                    timeout=60).take())
    ex.IsInstalled(timeout=60)
    print("registered", flush=True)
    GLib.MainLoop().run()
''') % {'bus': BUS_NAME, 'iface': EXECUTOR_IFACE}


@dmshost.requires_engine
class DBusFuzz(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(dmshost.PLUGIN):
            raise AssertionError('the plugin is not built: ' + dmshost.PLUGIN)
        cls.state_dir = tempfile.mkdtemp(prefix='dms-dbusfuzz-state-')
        cls.ctl = tempfile.mkdtemp(prefix='dms-dbusfuzz-ctl-')
        os.chmod(cls.ctl, 0o777)
        cls.bus = dmshost.PrivateBus()
        cls.dead_hosts = []
        try:
            cls.start_host()
        except Exception:
            dmshost.teardown(bus=cls.bus, dirs=[cls.state_dir, cls.ctl])
            raise

    @classmethod
    def start_host(cls):
        """A dms-host and its executor; the baseline is taken in setUp."""
        # Executors created with a config without state_dir (the hostile
        # payloads) keep their state in our temporary dir.
        cls.host = dmshost.Host(cls.bus, env={'DMS_STATE_DIR': cls.state_dir})
        cls.pid = cls.host.proc.pid
        cls.conn = cls.bus.connect()
        # Before any call: no pool worker, no executor.
        cls.bare_threads = threads_of(cls.pid)
        cls.manager = dbus.Interface(cls.conn.get_object(BUS_NAME, MANAGER_PATH), MANAGER_IFACE)
        cls.executor_id = dmshost.unique('dbusfuzz')
        # The gated jobs bind the control directory: this suite's policy.
        cls.ex_path = cls.manager.NewExecutor(cls.executor_id,
                                              dmshost.executor_config(cls.state_dir) +
                                              'policy:\n  bind_roots: [%s]\n'
                                              % json.dumps(cls.ctl),
                                              timeout=CALL_TIMEOUT)
        cls.ex = dbus.Interface(cls.conn.get_object(BUS_NAME, cls.ex_path), EXECUTOR_IFACE)
        cls.idle_threads = cls.bare_threads + EXECUTOR_THREADS
        # Warm the engine connection pool: many calls at once.
        replies = [AsyncReply() for _ in range(64)]
        for r in replies:
            cls.ex.IsInstalled(timeout=CALL_TIMEOUT, **r.handlers())
        wait_until(lambda: all(r.done for r in replies), 120, 'the warm-up calls')
        cls.base_fds = None

    @classmethod
    def tearDownClass(cls):
        # A host that died during the last test was reported by that test.
        already_dead = cls.host.proc.poll() is not None
        dmshost.teardown(conn=cls.conn, host=cls.host, bus=cls.bus,
                         executors=[(cls.ex, cls.manager, cls.executor_id)],
                         dirs=[cls.state_dir, cls.ctl], check_host=not already_dead)

    def setUp(self):
        if self.host.proc.poll() is not None:
            # An earlier test killed it (and failed for it): a fresh host,
            # so that this test still tests something.
            status, log = self.host.wait_exit(10)
            DBusFuzz.dead_hosts.append((status, log))
            self.conn.close()
            DBusFuzz.start_host()
        if DBusFuzz.base_fds is None:
            DBusFuzz.base_fds = fds_of(self.pid)
            print('\ndbus_fuzz: baseline: %d fds, %d threads (%d before the executor)' %
                  (self.base_fds, self.idle_threads, self.bare_threads), file=sys.stderr)

    def settle(self, when):
        """Waits for idle pool workers to exit: threads back to the idle
        count exactly (deadline)."""
        poll_until(lambda: threads_of(self.pid) == self.idle_threads, IDLE_DEADLINE,
                   'dms-host threads back to %d %s (now %d)' %
                   (self.idle_threads, when, threads_of(self.pid)), interval=0.5)

    def assertBackToBaseline(self, what):
        self.assertIsNone(self.host.proc.poll(), 'dms-host died during %s:\n%s' %
                          (what, self.host.read_log()[-3000:]))
        self.assertTrue(self.ex.IsInstalled(timeout=CALL_TIMEOUT), 'self.ex.IsInstalled(timeout=CALL_TIMEOUT)')
        fds = poll_until(lambda: abs(fds_of(self.pid) - self.base_fds) <= FD_SLACK and
                         fds_of(self.pid), 60,
                         'dms-host fds back to %d +-%d after %s (now %d)' %
                         (self.base_fds, FD_SLACK, what, fds_of(self.pid)))
        print('dbus_fuzz: after %s: %d fds, %d threads' % (what, fds, threads_of(self.pid)),
              file=sys.stderr)

    # --- the storm -------------------------------------------------------

    def test_random_and_malformed_calls(self):
        rng = random.Random(SEED)
        strings = hostile_strings(rng)
        passed_fds = [os.open('/dev/null', os.O_RDONLY) for _ in range(3)]
        r, w = os.pipe()
        passed_fds += [r, w]
        paths = [MANAGER_PATH, self.ex_path, '/', '/org', '/org/dms', '/org/dms/Executor/_zz',
                 '/org/dms/Executor/_2', self.ex_path + '/child', '/org/dms/Executor/' +
                 'a' * 1000, '/org/dms/Executor/_2e_2e', '/org/dms/Executor/x/y/z',
                 '/org/freedesktop/DBus']
        ifaces = [EXECUTOR_IFACE, MANAGER_IFACE, PROPS, INTRO, PEER, None, 'org.dms.Nope',
                  'org.dms.Executor1.X']
        members = ['Start', 'Wait', 'Run', 'Cancel', 'GetLogStream', 'IsInstalled',
                   'GetEngineInfo', 'List', 'NewExecutor', 'ListExecutors', 'RemoveExecutor',
                   'Get', 'GetAll', 'Set', 'Introspect', 'Ping', 'GetMachineId', 'Explode',
                   'start', 'A' * 255]
        # Cleanup is left out (it would only talk to the engine), and
        # NewExecutor gets an id that is never valid: the storm must not
        # create executors (the next test checks the payloads that do).
        replies = []
        started = time.monotonic()
        try:
            for n in range(CALLS):
                # Half the calls on the real objects and interfaces with a
                # string argument, so that many get past the protocol checks.
                deep = rng.random() < 0.5
                sig = 's' if deep and rng.random() < 0.7 else rng.choice(SIGNATURES)
                member = rng.choice(members)
                path = (MANAGER_PATH if member in ('NewExecutor', 'ListExecutors',
                                                   'RemoveExecutor') else self.ex_path) \
                    if deep else rng.choice(paths)
                iface = (MANAGER_IFACE if path == MANAGER_PATH else EXECUTOR_IFACE) \
                    if deep else rng.choice(ifaces)
                args = random_args(rng, sig, strings, passed_fds)
                if member == 'NewExecutor' and sig.startswith('s'):
                    args[0] = '!' + args[0]
                reply = AsyncReply()
                replies.append((member, sig, reply))
                self.conn.call_async(BUS_NAME, path, iface, member, sig, args, reply.ok,
                                     reply.fail, timeout=CALL_TIMEOUT)
                if n % 200 == 199:  # keep the daemon's queue of our calls bounded
                    wait_until(lambda: all(r.done for _, _, r in replies), CALL_TIMEOUT,
                               'replies to the first %d calls' % (n + 1))
            wait_until(lambda: all(r.done for _, _, r in replies), CALL_TIMEOUT,
                       'a reply to every call')
        finally:
            for fd in passed_fds:
                os.close(fd)
        names = {}
        for member, sig, r in replies:
            name = r.error.get_dbus_name() if r.error else 'ok'
            names[name] = names.get(name, 0) + 1
            self.assertNotEqual(name, FD + 'NoReply', '%s(%s) got no reply' % (member, sig))
            self.assertNotEqual(name, FD + 'Disconnected', '%s(%s)' % (member, sig))
        print('\ndbus_fuzz: %d calls in %.1fs (seed %d): %s' %
              (len(replies), time.monotonic() - started, SEED,
               ', '.join('%s %d' % (k.replace(FD, '').replace('org.dms.Error.', 'dms.'), v)
                         for k, v in sorted(names.items()))), file=sys.stderr)
        # No executor was created by the storm.
        self.assertEqual([str(p) for p in self.manager.ListExecutors(timeout=CALL_TIMEOUT)],
                         [self.ex_path])
        self.assertBackToBaseline('%d random calls' % len(replies))

    def test_hostile_payloads_on_every_method(self):
        """Every hostile string through every string-taking method, the
        correct signature each time: domain errors, never a crash."""
        rng = random.Random(SEED + 1)
        calls = 0
        for s in hostile_strings(rng):
            for path, iface, member, args in (
                    (self.ex_path, EXECUTOR_IFACE, 'Start', (s,)),
                    (self.ex_path, EXECUTOR_IFACE, 'Run', (s,)),
                    (self.ex_path, EXECUTOR_IFACE, 'Wait', (s,)),
                    (self.ex_path, EXECUTOR_IFACE, 'Cancel', (s,)),
                    (self.ex_path, EXECUTOR_IFACE, 'GetLogStream', (s,)),
                    (MANAGER_PATH, MANAGER_IFACE, 'NewExecutor', ('fz', s)),
                    (MANAGER_PATH, MANAGER_IFACE, 'NewExecutor', (s, '')),
                    (MANAGER_PATH, MANAGER_IFACE, 'RemoveExecutor', (s,))):
                calls += 1
                try:
                    v = self.conn.call_blocking(BUS_NAME, path, iface, member,
                                                's' * len(args), args, timeout=CALL_TIMEOUT)
                    if member == 'NewExecutor':
                        # A valid config for id "fz": remove it again.
                        self.manager.RemoveExecutor(args[0], timeout=CALL_TIMEOUT)
                    elif member == 'GetLogStream':
                        os.close(v.take())
                except dbus.DBusException as e:
                    name = e.get_dbus_name()
                    self.assertTrue(name.startswith('org.dms.Error.'),
                                    '%s(%.60r): %s %s\n%s' % (
                                        member, s, name, e.get_dbus_message()[:200],
                                        self.host.read_log()[-2500:]
                                        if self.host.proc.poll() is not None else ''))
        print('\ndbus_fuzz: %d hostile payload calls answered' % calls, file=sys.stderr)
        self.assertBackToBaseline('hostile payloads')

    def test_wait_with_empty_execution_id(self):
        """Wait("") once killed dms-host (SEGV: handler_unref() of an
        uninitialised pointer after lookup() refused the empty id): now
        org.dms.Error.InvalidArgument, and the daemon keeps serving."""
        with self.assertRaises(dbus.DBusException) as cm:
            self.ex.Wait('', timeout=CALL_TIMEOUT)
        self.assertEqual(cm.exception.get_dbus_name(), 'org.dms.Error.InvalidArgument',
                         '%s: %s\n%s' % (cm.exception.get_dbus_name(),
                                        cm.exception.get_dbus_message(),
                                        self.host.read_log()[-2500:]))
        self.assertBackToBaseline('Wait("")')

    # --- clients that vanish, fds never read ------------------------------

    def gated_job(self, name, extra=''):
        eid = dmshost.unique(name)
        _, req = dmshost.private_job(
            '%s while [ ! -e /ctl/%s ]; do usleep 50000; done; echo done' % (extra, eid),
            execution_id=eid, inputs=[{'source': self.ctl, 'target': '/ctl'}])
        self.ex.Start(req, timeout=CALL_TIMEOUT)
        return eid

    def release(self, eid):
        open(os.path.join(self.ctl, eid), 'w').close()

    def vanishing_client(self, what, eid):
        p = subprocess.Popen(['/usr/bin/python3', '-c', VANISHING_CLIENT, self.bus.address,
                              self.ex_path, what, eid],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            line = dmshost.read_line_with_deadline(p.stdout, 60, 'the client to register')
            self.assertEqual(line, 'registered')
        finally:
            p.kill()
            p.wait(30)
            p.stdout.close()
            p.stderr.close()

    def test_clients_vanish_mid_wait_and_mid_follow(self):
        eid = self.gated_job('vanish', 'i=0; while [ $i -lt 2000 ]; do echo line $i; '
                             'i=$((i+1)); done;')
        for _ in range(5):
            self.vanishing_client('wait', eid)
            self.vanishing_client('follow', eid)
        self.release(eid)
        res = json.loads(self.ex.Wait(eid, timeout=CALL_TIMEOUT))
        self.assertEqual(res['exit_code'], 0, res)
        self.assertTrue(res['stdout'].endswith('line 1999\ndone\n'), res['stdout'][-50:])
        self.assertBackToBaseline('10 clients that vanished')

    def test_log_fd_never_read(self):
        # 4 MiB of output: far more than a socket buffer holds.
        _, req = dmshost.job("yes 0123456789abcdef0123456789abcdef0123456789abcdef012345678 "
                             "| head -c 4194304")
        eid = json.loads(req)['execution_id']
        res = json.loads(self.ex.Run(req, timeout=CALL_TIMEOUT))
        self.assertEqual(res['exit_code'], 0, res)
        fds = [self.ex.GetLogStream(json.dumps({'execution_id': eid}), timeout=CALL_TIMEOUT).take()
               for _ in range(8)]
        try:
            # Never read: the daemon keeps serving everyone else meanwhile.
            for _ in range(20):
                self.assertTrue(self.ex.IsInstalled(timeout=CALL_TIMEOUT), 'self.ex.IsInstalled(timeout=CALL_TIMEOUT)')
            again = json.loads(self.ex.Wait(eid, timeout=CALL_TIMEOUT))
            self.assertEqual(again, res)
            # One reader that does read gets everything.
            fd = self.ex.GetLogStream(json.dumps({'execution_id': eid, 'format': 'plain'}),
                                      timeout=CALL_TIMEOUT).take()
            data = dmshost.read_all(fd, 120)
            os.close(fd)
            self.assertEqual(len(data), 4194304)
        finally:
            for fd in fds:
                os.close(fd)
        self.assertBackToBaseline('8 log fds never read, then closed')

    def test_zz_threads_back_to_idle(self):
        """Last (by name): every thread started for the calls above has
        exited — exactly the idle count: the threads before any call plus
        the executor's own."""
        self.settle('after every test')
        print('dbus_fuzz: idle again: %d threads, %d fds' % (threads_of(self.pid),
                                                             fds_of(self.pid)), file=sys.stderr)


if __name__ == '__main__':
    unittest.main()
