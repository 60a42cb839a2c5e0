"""test_misbehave.py — jobs that misbehave, through dms-host, on Docker and
on Podman (issue 6, "Jobs that misbehave"):

- jobs that exit in well under a millisecond, many at once: every Run answers
  with its own exit code, ExecutionFinished comes once per job, no container
  is left;
- a job killed from outside (the engine's kill endpoint, what `docker kill`
  calls): exit 137, signal 9, not OOM, not cancelled;
- 1 GiB on stdout while a GetLogStream(follow) reader never reads: the job
  runs to its end (the container never blocks on the reader), dms-host's
  memory and the executor's disk (spool, results files) stay within their
  bounds, and the stream's thread ends once the reader closes;
- binary and non-UTF-8 output: byte-exact in GetLogStream and the results
  files where the engine keeps the bytes; U+FFFD in the JSON result;
- a last line without a newline, on stdout and on stderr: kept whole in the
  result, the log stream (also a follow started while the job runs) and the
  results files.

(`docker kill` on Docker is also in test_engine_faults.py; a job that
ignores SIGTERM and is killed after the grace period is features/Cancel.feature,
on both engines.)
"""
import json
import os
import select
import shutil
import tempfile
import time
import unittest

from dmshost import (BUS_NAME, CALL_TIMEOUT, EXECUTOR_IFACE, AsyncReply, EngineHostTestCase,
                     engine_api, job, poll_until, read_frames, wait_until)

GIB = 1 << 30
MIB = 1 << 20
SPOOL_LIMIT = 16 * MIB
RESULTS_FILE_LIMIT = 8 * MIB
OUTPUT_LIMIT = MIB  # the default
# policy.results_root of this suite's executors (dmshost removes TMP_ROOT).
RESULTS_ROOT = tempfile.mkdtemp(prefix='dms-results-root-')

# Not valid UTF-8: 0xff, 0xfe and 0xc0 can never start a sequence, so every
# decoder replaces each of them by one U+FFFD. Valid: NUL, controls, é.
BINARY = b'a\x00b\x01\x1b[0m\xff\xfe\nh\xc3\xa9llo\n\xc0tail'


def printf_octal(data):
    """A busybox printf format that writes exactly `data`."""
    return ''.join('\\%03o' % b for b in data)


def proc_status(pid, key):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    raise AssertionError('%s not in /proc/%d/status' % (key, pid))


def tree_bytes(path):
    """Bytes of the regular files under path (allocated, not apparent)."""
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(d, f)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


class MisbehaveMixin:
    # ASan keeps freed memory in a quarantine (256 MiB by default), which
    # would count as growth below: capped so RSS shows what the host holds.
    host_env = {'ASAN_OPTIONS': os.environ.get('ASAN_OPTIONS', 'detect_leaks=1') +
                ':quarantine_size_mb=8'}
    extra_config = ('log_spool_limit: %d\nresults_file_limit: %d\n'
                    'policy:\n  results_root: %s\n'
                    % (SPOOL_LIMIT, RESULTS_FILE_LIMIT, json.dumps(RESULTS_ROOT)))

    def setUp(self):
        self.results = tempfile.mkdtemp(prefix='dms-results-', dir=RESULTS_ROOT)
        self.addCleanup(shutil.rmtree, self.results, True)

    def results_file(self, eid, name):
        with open(os.path.join(self.results, eid, name), 'rb') as f:
            return f.read()

    def start(self, script, **params):
        eid, req = job(script, **params)
        r = json.loads(req)
        r['results_dir'] = os.path.join(self.results, eid)
        self.ex.Start(json.dumps(r), timeout=CALL_TIMEOUT)
        return eid

    def logs(self, eid, follow=False):
        return self.ex.GetLogStream(json.dumps({'execution_id': eid, 'follow': follow}),
                                    timeout=CALL_TIMEOUT).take()

    def container_of(self, eid):
        cs = engine_api(self.runtime).containers('org.dms.execution=' + eid)
        self.assertEqual(len(cs), 1, cs)
        return cs[0]['Id']

    def test_instant_exits(self):
        """24 jobs that exit at once (`true`, `exit N`), all started
        together: each Run answers its own exit code, ExecutionFinished
        comes exactly once per job, and no container is left."""
        finished = {}

        def on_finished(eid, result):
            finished.setdefault(str(eid), []).append(json.loads(result))

        m = self.conn.add_signal_receiver(on_finished, 'ExecutionFinished', EXECUTOR_IFACE,
                                          BUS_NAME, self.ex_path)
        self.addCleanup(m.remove)
        runs = {}
        for i in range(24):
            if i % 3 == 0:
                eid, req = job(cmd=['/bin/true'])
                code = 0
            else:
                code = i
                eid, req = job('exit %d' % code)
            reply = AsyncReply()
            self.ex.Run(req, timeout=CALL_TIMEOUT * 5, **reply.handlers())
            runs[eid] = (code, reply)
        wait_until(lambda: all(r.done for _, r in runs.values()), 300, 'all 24 Run replies')
        for eid, (code, reply) in runs.items():
            self.assertIsNone(reply.error, '%s: %s' % (eid, reply.error))
            res = json.loads(reply.value)
            self.assertEqual((res['exit_code'], res['signal'], res['cancelled'], res['error_msg']),
                             (code, 0, False, None), res)
            self.assertLessEqual(res['started_at'], res['finished_at'], res)
        wait_until(lambda: all(e in finished for e in runs), 60, 'ExecutionFinished for all')
        for eid, (code, _) in runs.items():
            self.assertEqual(len(finished[eid]), 1, (eid, finished[eid]))
            self.assertEqual(finished[eid][0]['exit_code'], code)
        # Removal comes after the replies (off the critical path).
        poll_until(lambda: not engine_api(self.runtime).containers(
            'org.dms.executor=' + self.executor_id), 120, 'the containers to be removed')

    def test_killed_from_outside(self):
        """The engine's kill endpoint (docker kill, podman kill): exit 137,
        signal 9, not OOM, not cancelled, the output before it kept."""
        eid = self.start('echo ready; exec sleep 300')
        wait = AsyncReply()
        self.ex.Wait(eid, timeout=CALL_TIMEOUT * 5, **wait.handlers())
        fd = self.logs(eid, follow=True)
        try:
            seen = b''
            deadline = time.monotonic() + 60
            while b'ready\n' not in seen:
                left = deadline - time.monotonic()
                self.assertTrue(left > 0 and select.select([fd], [], [], left)[0],
                                'no "ready" on the follow stream within 60 s')
                chunk = os.read(fd, 4096)  # framed; "ready" is in the payload
                self.assertTrue(chunk, 'the follow stream ended before "ready"')
                seen += chunk
        finally:
            os.close(fd)
        status, body = engine_api(self.runtime).request(
            'POST', '/containers/%s/kill' % self.container_of(eid))
        self.assertEqual(status, 204, body)
        wait_until(lambda: wait.done, 60, 'Wait to answer after the kill')
        self.assertIsNone(wait.error, wait.error)
        res = json.loads(wait.value)
        self.assertEqual((res['exit_code'], res['signal'], res['oom_killed'], res['cancelled'],
                          res['stdout']), (137, 9, False, False, 'ready\n'), res)
        self.assertEqual(self.results_file(eid, 'exitCode'), b'137\n')

    def test_gigabyte_to_a_reader_that_does_not_read(self):
        """1 GiB on stdout, a follow reader that never reads: the job ends
        on its own, dms-host's RSS and the executor's files stay bounded,
        and the stream thread goes once the reader closes."""
        pid = self.host.proc.pid
        threads0 = proc_status(pid, 'Threads')
        rss0 = proc_status(pid, 'VmRSS')
        line = 'x' * 4095
        eid = self.start('yes %s | head -c %d; echo done >&2' % (line, GIB))
        t0 = time.monotonic()
        wait = AsyncReply()
        self.ex.Wait(eid, timeout=CALL_TIMEOUT * 10, **wait.handlers())
        fd = self.logs(eid, follow=True)  # never read until the job ended
        peak = {'rss': rss0, 'disk': 0}
        state_dir = self.state_dir

        def done():
            peak['rss'] = max(peak['rss'], proc_status(pid, 'VmRSS'))
            peak['disk'] = max(peak['disk'], tree_bytes(state_dir) + tree_bytes(self.results))
            return wait.done

        try:
            wait_until(done, 900, 'the 1 GiB job to end')
            took = time.monotonic() - t0
            self.assertIsNone(wait.error, wait.error)
            res = json.loads(wait.value)
            self.assertEqual((res['exit_code'], res['stderr'], res['stdout_truncated']),
                             (0, 'done\n', True), {k: v for k, v in res.items() if k != 'stdout'})
            self.assertEqual(len(res['stdout']), OUTPUT_LIMIT)
            self.assertEqual(res['stdout'], (line + '\n') * (OUTPUT_LIMIT // 4096))
            out = self.results_file(eid, 'stdout')
            self.assertEqual(len(out), RESULTS_FILE_LIMIT)
            self.assertEqual(out, ((line + '\n') * (RESULTS_FILE_LIMIT // 4096)).encode())
            self.assertEqual(self.results_file(eid, 'stderr'), b'done\n')
        finally:
            os.close(fd)
        # Every thread that served the stream is gone once its reader is.
        poll_until(lambda: proc_status(pid, 'Threads') <= threads0, 60,
                   'dms-host back to %d threads' % threads0)
        grown = (peak['rss'] - rss0) * 1024
        # Files: the spool, the results files, the state file (it keeps the
        # result, output_limit of each stream), plus 1 MiB for the spool's
        # frame headers and the state of this class's other jobs.
        disk_bound = SPOOL_LIMIT + RESULTS_FILE_LIMIT + 2 * OUTPUT_LIMIT + MIB
        print('\n  %s: 1 GiB job took %.1f s; dms-host RSS %.1f -> peak %.1f MiB; '
              'executor files peak %.1f MiB (bound %.1f)' %
              (self.runtime, took, rss0 / 1024, peak['rss'] / 1024, peak['disk'] / MIB,
               disk_bound / MIB))
        self.assertLessEqual(peak['disk'], disk_bound)
        # 1 GiB went through; the host's memory may grow by buffers, not by
        # the output (ASan's quarantine is capped for this host: see below).
        self.assertLess(grown, 48 * MIB, 'dms-host grew by %.1f MiB' % (grown / MIB))

    def test_binary_and_non_utf8_output(self):
        """NUL, escape sequences, é and bytes that are not UTF-8: the log
        stream and the results file carry what the engine kept (Podman:
        every byte; Docker's json-file driver replaces invalid UTF-8 by
        U+FFFD before anyone reads it); the JSON result has U+FFFD for each
        invalid byte."""
        script = "printf '%s'; printf '%s' >&2" % (printf_octal(BINARY), printf_octal(BINARY))
        eid = self.start(script)
        res = json.loads(self.ex.Wait(eid, timeout=CALL_TIMEOUT))
        text = BINARY.decode('utf-8', 'replace')
        self.assertEqual((res['exit_code'], res['stdout'], res['stderr']), (0, text, text), res)
        kept = BINARY if self.runtime == 'podman' else text.encode()
        self.assertEqual(read_frames(self.logs(eid), 60), (kept, kept))
        self.assertEqual(self.results_file(eid, 'stdout'), kept)
        self.assertEqual(self.results_file(eid, 'stderr'), kept)

    def test_last_line_without_newline(self):
        """Output that does not end in a newline, on both streams, while a
        follower reads (engines' follow streams drop such a tail; the
        executor completes it)."""
        eid = self.start("printf 'one\\n'; printf 'e1\\n' >&2; sleep 1; "
                         "printf 'two'; printf 'e2' >&2")
        fd = self.logs(eid, follow=True)
        followed = read_frames(fd, 120)
        res = json.loads(self.ex.Wait(eid, timeout=CALL_TIMEOUT))
        self.assertEqual((res['exit_code'], res['stdout'], res['stderr']),
                         (0, 'one\ntwo', 'e1\ne2'), res)
        self.assertEqual(followed, (b'one\ntwo', b'e1\ne2'))
        self.assertEqual(read_frames(self.logs(eid), 60), (b'one\ntwo', b'e1\ne2'))
        self.assertEqual(self.results_file(eid, 'stdout'), b'one\ntwo')
        self.assertEqual(self.results_file(eid, 'stderr'), b'e1\ne2')


class TestMisbehaveDocker(MisbehaveMixin, EngineHostTestCase):
    runtime = 'docker'


class TestMisbehavePodman(MisbehaveMixin, EngineHostTestCase):
    runtime = 'podman'


if __name__ == '__main__':
    unittest.main()
