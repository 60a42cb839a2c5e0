"""test_security.py — what the executor must never do with what it is given:

- no shell and no program at all is spawned by the plugin or the host for
  engine operations: a source check (executor/, handlers/, host/ call no
  system/popen/exec*/posix_spawn/fork) and, when strace is installed, a
  runtime check (dms-host under strace -f: no execve after its own while
  it creates an executor, runs, follows, cancels and cleans up jobs);
- request strings never reach a shell: shell metacharacters in cmd come out
  literally, nothing they would have run ran;
- ids cannot name paths outside the state dir;
- file modes: the state dirs the executor creates are 0700 and its records
  and log spools 0600, even under umask 0; results files are 0640 at most
  (no world bits, no group write);
- results_dir is written safely when the job itself can write into it (an
  output whose source is "."): a symlink or a FIFO planted by the job in
  place of stdout neither redirects the write nor blocks the harvest;
  results files that already exist with a loose mode are replaced, not
  reused.

(The system-bus policy is tested by test_policy.py.)"""
import glob
import json
import os
import re
import shutil
import stat
import tempfile
import unittest

import dmshost
from dmshost import (BUS_NAME, CALL_TIMEOUT, EXECUTOR_IFACE, MANAGER_IFACE, MANAGER_PATH,
                     SOURCE_DIR, AsyncReply, dbus, wait_until)

SPAWN = re.compile(r'\b(system|popen|execv|execve|execvp|execvpe|execl|execlp|execle|fexecve|'
                   r'posix_spawnp?|fork|vfork|clone3?)\s*\(')
STRACE = shutil.which('strace')


def strip_c_comments_and_strings(text):
    text = re.sub(r'/\*.*?\*/', lambda m: '\n' * m.group(0).count('\n'), text, flags=re.S)
    text = re.sub(r'//[^\n]*', '', text)
    return re.sub(r'"(\\.|[^"\\\n])*"', '""', text)


def _traced_child(strace_pid):
    with open('/proc/%d/task/%d/children' % (strace_pid, strace_pid)) as f:
        return int(f.read().split()[0])


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


class NoShellInTheSource(unittest.TestCase):

    def test_no_process_spawning_calls(self):
        hits = []
        files = 0
        for d in ('executor', 'handlers', 'host'):
            for path in sorted(glob.glob(os.path.join(SOURCE_DIR, d, '**', '*.[ch]'),
                                         recursive=True)):
                files += 1
                with open(path, errors='replace') as f:
                    code = strip_c_comments_and_strings(f.read())
                for n, line in enumerate(code.splitlines(), 1):
                    if SPAWN.search(line):
                        hits.append('%s:%d: %s' % (os.path.relpath(path, SOURCE_DIR), n,
                                                   line.strip()))
        self.assertGreater(files, 20)
        self.assertEqual(hits, [], 'process-spawning calls:\n' + '\n'.join(hits))


@dmshost.requires_engine
class Runtime(unittest.TestCase):
    """One dms-host, under strace when installed, with umask 0."""

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(dmshost.PLUGIN):
            raise AssertionError('the plugin is not built: ' + dmshost.PLUGIN)
        cls.tmp = tempfile.mkdtemp(prefix='dms-security-')
        # The executor creates its state dir itself, under umask 0.
        cls.state_dir = os.path.join(cls.tmp, 'state', 'nested')
        cls.trace = os.path.join(cls.tmp, 'strace.txt')
        cls.bus = dmshost.PrivateBus()
        wrapper = [STRACE, '-f', '-qq', '-e', 'trace=execve,execveat', '-o', cls.trace] \
            if STRACE else []
        # LeakSanitizer cannot work under ptrace; the other tests check leaks.
        env = {'ASAN_OPTIONS': os.environ.get('ASAN_OPTIONS', '') + ':detect_leaks=0'} \
            if STRACE else None
        old = os.umask(0)
        try:
            cls.host = dmshost.Host(cls.bus, wrapper=wrapper, env=env)
        except Exception:
            dmshost.teardown(bus=cls.bus, dirs=[cls.tmp])
            raise
        finally:
            os.umask(old)
        cls.conn = cls.bus.connect()
        cls.manager = dbus.Interface(cls.conn.get_object(BUS_NAME, MANAGER_PATH), MANAGER_IFACE)
        cls.executor_id = dmshost.unique('sec')
        cls.ex_path = cls.manager.NewExecutor(cls.executor_id,
                                              dmshost.executor_config(cls.state_dir) +
                                              'policy:\n  results_root: %s\n'
                                              % json.dumps(cls.tmp),
                                              timeout=CALL_TIMEOUT)
        cls.ex = dbus.Interface(cls.conn.get_object(BUS_NAME, cls.ex_path), EXECUTOR_IFACE)
        cls.exec_dir = os.path.join(cls.state_dir, cls.executor_id)

    @classmethod
    def tearDownClass(cls):
        if STRACE:
            # SIGTERM goes to dms-host itself, strace then exits with it.
            cls.host.proc.send_signal = lambda sig: os.kill(_traced_child(cls.host.proc.pid), sig)
        dmshost.teardown(conn=cls.conn, host=cls.host, bus=cls.bus,
                         executors=[(cls.ex, cls.manager, cls.executor_id)], dirs=[cls.tmp])

    def run_req(self, req):
        return json.loads(self.ex.Run(json.dumps(req), timeout=CALL_TIMEOUT))

    def request(self, eid, **top):
        _, text = dmshost.job(None, execution_id=eid or 'placeholder')
        req = json.loads(text)
        req['execution_id'] = eid
        req.update(top)
        return req

    # --- no shell ---------------------------------------------------------

    def test_a_metacharacters_stay_literal(self):
        canary = os.path.join(self.tmp, 'pwned')
        eid = dmshost.unique('meta')
        args = ['echo', 'a;b', '$(touch %s)' % canary, '`id`', '|', 'cat', '&&', 'x>y',
                "'q'", '"dq"', '\\', '${HOME}', '*']
        req = self.request(eid)
        req['engine_spec']['params']['cmd'] = args
        res = self.run_req(req)
        self.assertEqual(res['exit_code'], 0, res)
        self.assertEqual(res['stdout'], ' '.join(args[1:]) + '\n', res)
        self.assertFalse(os.path.exists(canary), 'os.path.exists(canary)')

    def test_b_ids_cannot_name_paths(self):
        for bad in ('../../../tmp/escape', '..', '.', 'a/b', '/abs', 'x\ny'):
            req = self.request(bad)
            with self.assertRaises(dbus.DBusException) as cm:
                self.ex.Start(json.dumps(req), timeout=CALL_TIMEOUT)
            self.assertEqual(cm.exception.get_dbus_name(), 'org.dms.Error.InvalidArgument',
                             bad)
        for bad in ('../x', 'a/b', ''):
            with self.assertRaises(dbus.DBusException) as cm:
                self.manager.NewExecutor(bad, dmshost.executor_config(self.state_dir),
                                         timeout=CALL_TIMEOUT)
            self.assertEqual(cm.exception.get_dbus_name(), 'org.dms.Error.InvalidArgument',
                             bad)
        self.assertEqual(sorted(os.listdir(os.path.dirname(self.state_dir))), ['nested'])

    # --- modes --------------------------------------------------------------

    def test_c_state_dir_modes(self):
        eid, req = dmshost.job('echo secret; echo err >&2; usleep 300000')
        self.ex.Start(req, timeout=CALL_TIMEOUT)
        records = glob.glob(os.path.join(self.exec_dir, 'jobs', '*.json'))
        self.assertTrue(records, 'no state record while the job runs: %s' %
                        os.listdir(os.path.join(self.exec_dir, 'jobs')))
        for r in records:
            self.assertEqual(mode(r), 0o600, r)
        res = json.loads(self.ex.Wait(eid, timeout=CALL_TIMEOUT))
        self.assertEqual(res['stdout'], 'secret\n', res)
        for d in (self.state_dir, self.exec_dir, os.path.join(self.exec_dir, 'jobs'),
                  os.path.join(self.exec_dir, 'spool')):
            self.assertEqual(mode(d), 0o700, '%s is %o' % (d, mode(d)))
        files = [p for p in glob.glob(os.path.join(self.exec_dir, '**', '*'), recursive=True)
                 if os.path.isfile(p)]
        self.assertTrue(any('/spool/' in p for p in files), files)
        for p in files:
            self.assertEqual(mode(p), 0o600, '%s is %o' % (p, mode(p)))

    def test_d_results_modes(self):
        results = os.path.join(self.tmp, 'results', 'r1')
        eid = dmshost.unique('res')
        req = self.request(eid, results_dir=results,
                           outputs=[{'source': 'out', 'target': '/out'}])
        req['engine_spec']['params'].update(
            entrypoint=['/bin/sh', '-c'], cmd=['echo to-stdout; echo x > /out/file'])
        res = self.run_req(req)
        self.assertEqual(res['exit_code'], 0, res)
        for name in ('stdout', 'stderr', 'exitCode'):
            p = os.path.join(results, name)
            self.assertTrue(os.path.isfile(p), p)
            self.assertEqual(mode(p) & 0o027, 0, '%s is %o' % (p, mode(p)))
        for d in (results, os.path.join(results, 'out')):
            self.assertEqual(mode(d) & 0o022, 0, '%s is %o' % (d, mode(d)))
        with open(os.path.join(results, 'stdout')) as f:
            self.assertEqual(f.read(), 'to-stdout\n')

    def test_d_results_modes_over_existing_files(self):
        """Results files that already exist with mode 0666 (left, or planted
        by another local user in a shared results_dir) must not receive the
        job's output world-readable: 0640 at most after the job."""
        results = os.path.join(self.tmp, 'results', 'r2')
        os.makedirs(results)
        for name in ('stdout', 'stderr', 'exitCode'):
            p = os.path.join(results, name)
            with open(p, 'w') as f:
                f.write('old\n')
            os.chmod(p, 0o666)
        req = self.request(dmshost.unique('res2'), results_dir=results)
        req['engine_spec']['params'].update(entrypoint=['/bin/sh', '-c'], cmd=['echo secret'])
        res = self.run_req(req)
        self.assertEqual(res['exit_code'], 0, res)
        with open(os.path.join(results, 'stdout')) as f:
            self.assertEqual(f.read(), 'secret\n')
        loose = ['%s %o' % (n, mode(os.path.join(results, n)))
                 for n in ('stdout', 'stderr', 'exitCode')
                 if mode(os.path.join(results, n)) & 0o027]
        self.assertEqual(loose, [], 'results files left group-writable or world-readable')

    # --- a job that writes into its own results_dir -------------------------
    # An output whose source is "." bind-mounts results_dir itself into the
    # container: what the job leaves in /out lands next to the stdout,
    # stderr and exitCode files the executor writes there after the exit.

    def planted_job(self, what, plant):
        results = os.path.join(self.tmp, 'planted-' + what)
        eid = dmshost.unique(what)
        req = self.request(eid, results_dir=results,
                           outputs=[{'source': '.', 'target': '/out'}])
        req['engine_spec']['params'].update(
            entrypoint=['/bin/sh', '-c'],
            cmd=['echo m > /out/marker; %s; echo job-output' % plant])
        reply = AsyncReply()
        self.ex.Run(json.dumps(req), timeout=CALL_TIMEOUT, **reply.handlers())
        return results, reply

    def assert_written_safely(self, reply, results):
        self.assertIsNone(reply.error, reply.error)
        res = json.loads(reply.value)
        self.assertEqual((res['exit_code'], res['stdout']), (0, 'job-output\n'), res)
        self.assertTrue(os.path.exists(os.path.join(results, 'marker')),
                        'the output was not mounted: /out/marker never reached %s' % results)
        p = os.path.join(results, 'stdout')
        self.assertTrue(stat.S_ISREG(os.lstat(p).st_mode), '%s is %o' % (p, os.lstat(p).st_mode))
        with open(p) as f:
            self.assertEqual(f.read(), 'job-output\n')

    def test_e_symlink_planted_in_results_dir(self):
        victim = os.path.join(self.tmp, 'victim')
        with open(victim, 'w') as f:
            f.write('untouched\n')
        results, reply = self.planted_job('symlink', 'ln -s %s /out/stdout' % victim)
        wait_until(lambda: reply.done, 120, 'Run to answer')
        with open(victim) as f:
            self.assertEqual(f.read(), 'untouched\n', 'a write followed the planted symlink')
        self.assert_written_safely(reply, results)

    def test_f_fifo_planted_in_results_dir(self):
        """A FIFO named stdout must not block the harvest (an open(O_WRONLY)
        without O_NONBLOCK on it waits for a reader forever)."""
        results, reply = self.planted_job('fifo', 'busybox mkfifo /out/stdout')
        try:
            wait_until(lambda: reply.done, 60, 'Run of a job that planted a FIFO as stdout '
                       'to answer (a harvest blocked on open()?)')
        finally:
            # Unblock a stuck harvest worker either way, so teardown works.
            fifo = os.path.join(results, 'stdout')
            if os.path.exists(fifo) and stat.S_ISFIFO(os.lstat(fifo).st_mode):
                fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
                wait_until(lambda: reply.done, 60, 'Run to answer once the FIFO has a reader')
                os.close(fd)
        self.assert_written_safely(reply, results)

    # --- no process spawned -----------------------------------------------------

    @unittest.skipUnless(STRACE, 'strace is not installed')
    def test_z_no_execve_at_run_time(self):
        # Everything the executor does with the engine, once more.
        eid, req = dmshost.job('echo hi; usleep 200000; echo bye')
        self.ex.Start(req, timeout=CALL_TIMEOUT)
        fd = self.ex.GetLogStream(json.dumps({'execution_id': eid, 'follow': True}),
                                  timeout=CALL_TIMEOUT).take()
        try:
            out, _ = dmshost.read_frames(fd, 60)
        except AssertionError as e:
            # Seen once under heavy load, never reproduced: say what the
            # executor thinks of the job.
            self.fail('%s; Wait says %s; host log:\n%s' % (
                e, self.ex.Wait(eid, timeout=CALL_TIMEOUT), self.host.read_log()[-2000:]))
        finally:
            os.close(fd)
        self.assertEqual(out, b'hi\nbye\n')
        eid2, req = dmshost.job('sleep 60')
        self.ex.Start(req, timeout=CALL_TIMEOUT)
        self.ex.Cancel(eid2, timeout=CALL_TIMEOUT)
        self.assertTrue(self.ex.IsInstalled(timeout=CALL_TIMEOUT), 'self.ex.IsInstalled(timeout=CALL_TIMEOUT)')
        self.ex.GetEngineInfo(timeout=CALL_TIMEOUT)
        self.ex.Cleanup(timeout=CALL_TIMEOUT)
        with open(self.trace) as f:
            execs = [l for l in f if 'execve' in l]
        self.assertEqual(len(execs), 1, 'dms-host spawned programs:\n' + ''.join(execs))
        self.assertIn(dmshost.DMS_HOST, execs[0])


if __name__ == '__main__':
    unittest.main()
