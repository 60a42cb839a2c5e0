"""test_dmsctl_run_flags.py — `dmsctl run` speaks docker run: every flag of
its table (host/ctl_run_flags.c, docs/cli.md) through a real dmsctl talking
to a real dms-host on a private bus, against the real engine, with the
effect checked where the engine shows it: the container's inspect (the job
is started with -d, or blocks until the test has looked, then is
cancelled), the job's output, the files it wrote, or the error Start
gives. The docker run flags the executor cannot honour are each refused
with a message naming them, before anything is started; so are unknown
flags and bad values.

Podman runs the same checks (class RunFlagsPodman) where its inspect
reports the same thing; docs/schema.md, "The check after create", lists the
differences it allows for."""
import json
import os
import re
import subprocess
import tempfile
import unittest

import dmshost
from dmshost import DMSCTL, IMAGE, unique

CTL_TIMEOUT = 120  # seconds: the deadline of each dmsctl process


def run_flags_config(state_dir):
    """The executor config of these tests, in one place: the operator policy
    (docs/security.md) allows what the flags under test ask for — binds
    under the state dir (-v, --mount), the capabilities of the --cap-add
    tests, the host network (--network host) and GPU requests (--gpus, which
    then fail on the engine with the error the tests check). Ports are >=
    1024 and results dirs under <state_dir>/results, within the defaults."""
    return ('policy:\n  bind_roots: [%s]\n  cap_add: [NET_ADMIN, CHOWN]\n'
            '  host_network: true\n  gpus: true\n' % os.path.realpath(state_dir))


class RunFlagsBase:
    runtime = 'docker'

    # --- helpers -----------------------------------------------------------

    @classmethod
    def write_config(cls):
        cls.config_file = os.path.join(cls.state_dir, 'executor.yaml')
        with open(cls.config_file, 'w') as f:
            f.write(cls.config)
        cls.api = dmshost.engine_api(cls.runtime)
        cls.scratch = os.path.join(cls.state_dir, 'scratch')
        os.makedirs(cls.scratch, exist_ok=True)

    def ctl(self, *args, status=None, env=None, cwd=None):
        e = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.bus.address,
                 DMS_EXECUTOR_CONFIG=self.config_file)
        e.pop('DMS_TEST_FROM_ENV', None)
        if env:
            e.update(env)
        p = subprocess.run([DMSCTL, '--executor', self.executor_id] + list(args), env=e,
                           capture_output=True, text=True, timeout=CTL_TIMEOUT, cwd=cwd,
                           stdin=subprocess.DEVNULL)
        if status is not None:
            self.assertEqual(p.returncode, status, 'dmsctl %s: exit %d\nstdout: %s\nstderr: %s'
                             % (' '.join(args), p.returncode, p.stdout, p.stderr))
        return p

    def finish(self, name):
        """Cancels a detached job and waits for its end (deadline)."""
        self.ctl('cancel', name)
        self.ctl('wait', name)

    def detached(self, *flags, cmd=('sleep', '60'), env=None, cwd=None):
        """`dmsctl run -d --name N FLAGS IMAGE CMD`: checks that it printed
        the execution id and returns (name, the container's inspect). The
        job is cancelled at cleanup."""
        name = unique('rf')
        p = self.ctl('run', '-d', '--name', name, *flags, IMAGE, *cmd, status=0, env=env,
                     cwd=cwd)
        self.assertEqual(p.stdout, name + '\n')
        self.addCleanup(self.finish, name)
        found = self.api.containers('org.dms.execution=' + name)
        self.assertEqual(len(found), 1, found)
        return name, self.api.inspect(found[0]['Id'])

    def run_result(self, *flags, cmd=(), status=None, env=None):
        """`dmsctl --json run FLAGS IMAGE CMD`: the result document."""
        p = self.ctl('--json', 'run', *flags, IMAGE, *cmd, status=status, env=env)
        return json.loads(p.stdout)

    def refused(self, *args, says):
        """dmsctl run ARGS exits 2 saying `says`, and starts nothing."""
        marker = unique('refused')
        p = self.ctl('run', '--name', marker, *args, IMAGE, 'true', status=2)
        self.assertIn(says, p.stderr)
        self.assertIn("See 'dmsctl run --help'.", p.stderr)
        self.assertEqual(self.api.containers('org.dms.execution=' + marker), [])
        return p.stderr

    # --- mounts ------------------------------------------------------------

    def test_volume_binds(self):
        ro = tempfile.mkdtemp(dir=self.scratch)
        rw = tempfile.mkdtemp(dir=self.scratch)
        rel = tempfile.mkdtemp(dir=self.scratch)
        mnt = tempfile.mkdtemp(dir=self.scratch)
        with open(os.path.join(ro, 'in'), 'w') as f:
            f.write('input\n')
        name, c = self.detached(
            '-v', ro + ':/ro:ro', '--volume=%s:/rw' % rw,
            '-v', './' + os.path.basename(rel) + ':/rel:rw',
            '--mount', 'type=bind,source=%s,target=/m,readonly' % mnt,
            cmd=('sh', '-c', 'cat /ro/in > /rw/out; touch /ro/x 2>/dev/null || echo ro > '
                 '/rw/ro-refused; sleep 60'), cwd=self.scratch)
        mounts = {m['Destination']: m for m in c['Mounts']}
        self.assertEqual(set(mounts), {'/ro', '/rw', '/rel', '/m'})
        self.assertEqual(mounts['/ro']['Source'], ro)
        self.assertFalse(mounts['/ro']['RW'])
        self.assertTrue(mounts['/rw']['RW'])  # docker's default: read-write
        self.assertEqual(mounts['/rel']['Source'], rel)  # ./relative: absolute
        self.assertTrue(mounts['/rel']['RW'])
        self.assertEqual(mounts['/m']['Source'], mnt)
        self.assertFalse(mounts['/m']['RW'])
        # The effect inside: read through the ro bind, written through rw.
        dmshost.poll_until(lambda: os.path.exists(os.path.join(rw, 'ro-refused')), 30,
                           'the job to write through the rw bind')
        with open(os.path.join(rw, 'out')) as f:
            self.assertEqual(f.read(), 'input\n')

    def test_volume_refusals(self):
        self.refused('-v', 'data:/data', says='"data" is a named volume; named volumes '
                     'need job groups')
        self.refused('-v', '/data', says='an anonymous volume')
        self.refused('-v', self.scratch + ':/x:z', says='option "z" is not supported')
        self.refused('--mount', 'type=volume,source=data,target=/d',
                     says='type=volume is not supported')
        self.refused('--mount', 'type=tmpfs,target=/d', says='type=tmpfs is not supported')
        self.refused('--mount', 'type=bind,source=%s,target=/d,bind-propagation=shared' %
                     self.scratch, says='"bind-propagation" is not supported')

    # --- network and ports -------------------------------------------------

    def test_publish_on_own_network(self):
        name, c = self.detached('--network', 'isolated', '-p', '127.0.0.1:18080:80',
                                '-p', '81/udp', '--publish=18082:82/tcp',
                                '-p', '127.0.0.1::83')
        b = c['HostConfig']['PortBindings']
        self.assertEqual(b['80/tcp'], [{'HostIp': '127.0.0.1', 'HostPort': '18080'}])
        self.assertEqual(b['82/tcp'][0]['HostPort'], '18082')
        self.assertIn(b['82/tcp'][0]['HostIp'], ('', '0.0.0.0'))
        self.assertIn('81/udp', b)  # ephemeral: "" (docker) or the port picked (podman)
        self.assertEqual(b['83/tcp'][0]['HostIp'], '127.0.0.1')
        self.assertEqual(len(c['NetworkSettings']['Networks']), 1)
        self.assertIn(name, list(c['NetworkSettings']['Networks'])[0])

    def test_network_modes(self):
        for mode in ('none', 'host'):
            with self.subTest(mode=mode):
                _, c = self.detached('--network=' + mode)
                self.assertEqual(c['HostConfig']['NetworkMode'], mode)
        _, c = self.detached('--net', 'none')  # docker's old name
        self.assertEqual(c['HostConfig']['NetworkMode'], 'none')
        self.refused('--network', 'mynet', says='--network: "mynet": must be none, bridge, '
                     'host, isolated')
        self.refused('--network', 'container:x', says="another container's network")
        self.refused('-p', '80-81:80', says='port ranges are not supported')
        self.refused('-p', 'abc', says='--publish: wants [IP:][HOST:]CONTAINER')
        self.refused('-p', '70000', says='--publish: wants')
        self.refused('-p', '80/icmp', says='--publish: wants')
        self.refused('-p', 'nohost:8080:80', says='"nohost" is not an IP address')
        # The executor's own rule, through the same flags: nothing to
        # publish from with no network.
        p = self.ctl('run', '--network', 'none', '-p', '18090:80', IMAGE, 'true', status=125)
        self.assertIn('cannot publish ports with network_mode "none"', p.stderr)

    # --- the process --------------------------------------------------------

    def test_process_flags(self):
        env_file = os.path.join(self.scratch, 'env')
        with open(env_file, 'w') as f:
            f.write('# a comment\n\nFROM_FILE=1\nDMS_TEST_FROM_ENV\n')
        label_file = os.path.join(self.scratch, 'labels')
        with open(label_file, 'w') as f:
            f.write('team=infra\nbare\n')
        _, c = self.detached(
            '-u', '0:1234', '--entrypoint', 'sh', '-w', '/tmp', '-e', 'A=1', '--env=B=x=y',
            '-e', 'DMS_TEST_FROM_ENV', '-e', 'DMS_TEST_UNSET', '--env-file', env_file,
            '-l', 'k=v', '--label', 'k=last', '-l', 'empty', '--label-file', label_file,
            '--stop-signal', 'SIGINT', '--stop-timeout', '7',
            cmd=('-c', 'sleep 60'), env={'DMS_TEST_FROM_ENV': 'here'})
        cfg = c['Config']
        self.assertEqual(cfg['User'], '0:1234')
        self.assertEqual(cfg['Entrypoint'], ['sh'])
        self.assertEqual(cfg['Cmd'], ['-c', 'sleep 60'])
        self.assertEqual(cfg['WorkingDir'], '/tmp')
        for kv in ('A=1', 'B=x=y', 'DMS_TEST_FROM_ENV=here', 'FROM_FILE=1'):
            self.assertIn(kv, cfg['Env'])
        self.assertFalse([e for e in cfg['Env'] if e.startswith('DMS_TEST_UNSET')])
        labels = cfg['Labels']
        self.assertEqual(labels['k'], 'last')  # the last one given wins
        self.assertEqual(labels['empty'], '')
        self.assertEqual(labels['team'], 'infra')
        self.assertEqual(labels['bare'], '')
        self.assertIn(cfg['StopSignal'], ('SIGINT', '2'))  # podman: the number
        self.assertEqual(cfg['StopTimeout'], 7)

    def test_entrypoint_cleared(self):
        _, c = self.detached('--entrypoint', '', cmd=('sleep', '60'))
        self.assertIn(c['Config']['Entrypoint'], (None, []))
        self.assertEqual(c['Config']['Cmd'], ['sleep', '60'])

    def test_security_and_resources(self):
        _, c = self.detached('--read-only', '--cap-drop', 'ALL', '--cap-add', 'NET_ADMIN',
                             '--cap-add=chown', '--pids-limit', '50', '--cpuset-cpus', '0',
                             '--cpus', '0.5', '-m', '64m')
        hc = c['HostConfig']
        self.assertTrue(hc['ReadonlyRootfs'])
        if self.runtime == 'docker':
            self.assertEqual(sorted(hc['CapAdd']), ['CAP_CHOWN', 'CAP_NET_ADMIN'])
            self.assertEqual(hc['CapDrop'], ['ALL'])
        else:  # podman lists the changes from its default set, without CAP_
            self.assertIn('NET_ADMIN', hc['CapAdd'])
        self.assertEqual(hc['PidsLimit'], 50)
        self.assertEqual(hc['CpusetCpus'], '0')
        self.assertEqual(hc['NanoCpus'], 500000000)
        self.assertEqual(hc['Memory'], 64 * 1024 * 1024)
        # The capabilities the process has: CHOWN (bit 0) and NET_ADMIN (12).
        p = self.ctl('run', '--cap-drop', 'ALL', '--cap-add', 'NET_ADMIN', '--cap-add=chown',
                     IMAGE, 'grep', 'CapEff', '/proc/self/status', status=0)
        self.assertEqual(p.stdout.split(), ['CapEff:', '0000000000001001'])
        # --read-only=false, --pids-limit -1: docker's "not set", the
        # engine's default (podman's containers.conf has one).
        _, c = self.detached('--read-only=false', '--pids-limit', '-1')
        _, default = self.detached()
        self.assertFalse(c['HostConfig']['ReadonlyRootfs'])
        self.assertEqual(c['HostConfig']['PidsLimit'], default['HostConfig']['PidsLimit'])

    def test_tty(self):
        _, c = self.detached('-t')
        self.assertTrue(c['Config']['Tty'])
        # A TTY's output is one stream: stderr arrives on stdout.
        p = self.ctl('run', '--tty', IMAGE, 'sh', '-c', 'echo out; echo err >&2', status=0)
        self.assertIn('out', p.stdout)
        self.assertIn('err', p.stdout)

    def test_gpus(self):
        # No GPU on the test machine: Start refuses each request, naming
        # what was asked (docs/schema.md, "GPUs").
        for flag, says in (('all', 'nvidia all GPUs cannot be provided'),
                           ('2', 'nvidia GPUs cannot be provided'),
                           ('"device=1,2"', 'nvidia GPU 1 cannot be provided'),
                           ('device=3', 'nvidia GPU 3 cannot be provided'),
                           ('count=1', 'nvidia GPUs cannot be provided'),
                           ('driver=amd,all', 'amd all GPUs cannot be provided')):
            with self.subTest(gpus=flag):
                name = unique('gpu')
                p = self.ctl('run', '--name', name, '--gpus', flag, IMAGE, 'true', status=125)
                self.assertIn('org.dms.Error.Resource', p.stderr)
                self.assertIn('resources.gpus[0]: ' + says, p.stderr)
                self.assertEqual(self.api.containers('org.dms.execution=' + name), [])
        self.refused('--gpus', 'lots', says='--gpus: wants all, a count')
        self.refused('--gpus', 'driver=matrox', says='--gpus: wants all')
        self.refused('--gpus', 'capabilities=compute', says='only capabilities=gpu')
        self.refused('--gpus', 'all', '--gpus', '1', says='--gpus: given twice')

    # --- the job's life -----------------------------------------------------

    def test_timeout_and_results_dir(self):
        results = os.path.join(self.state_dir, 'results', unique('r'))
        res = self.run_result('--timeout', '1s', '--stop-timeout=0',
                              '--results-dir', results, cmd=('sh', '-c', 'echo started; sleep 60'))
        self.assertTrue(res['cancelled'], res)
        self.assertEqual(res['stdout'], 'started\n')
        with open(os.path.join(results, 'stdout')) as f:
            self.assertEqual(f.read(), 'started\n')
        with open(os.path.join(results, 'exitCode')) as f:
            self.assertEqual(f.read().strip(), str(res['exit_code']))

    def test_pull(self):
        # never: an image that is not here is not pulled.
        p = self.ctl('run', '--pull', 'never', 'dms-test/not-here:1', 'true', status=125)
        self.assertIn('org.dms.Error.Image', p.stderr)
        # missing: the local image is used as it is (no registry is reachable).
        self.ctl('run', '--pull=missing', IMAGE, 'true', status=0)
        # always: pulls even a local image, which fails here: no registry has
        # dms-test/busybox.
        p = self.ctl('run', '-q', '--pull', 'always', IMAGE, 'true', status=125)
        self.assertIn('org.dms.Error.Image', p.stderr)
        self.refused('--pull', 'sometimes', says='--pull: must be always, missing or never')

    def test_detach_and_ps(self):
        name, c = self.detached()
        self.assertTrue(c['State']['Running'])
        for cmd in ('ps', 'ls'):
            p = self.ctl(cmd, status=0)
            line = [ln for ln in p.stdout.splitlines() if ln.startswith(name)]
            self.assertEqual(len(line), 1, p.stdout)
            self.assertIn('running', line[0])
        p = self.ctl('--json', 'run', '-d', IMAGE, 'true', status=0)
        eid = json.loads(p.stdout)['execution_id']
        self.assertTrue(eid.startswith('run-'), eid)
        self.ctl('wait', eid, status=0)

    def test_flag_forms(self):
        # -eK=V, -e=K=V, --flag=value, --flag value, grouped booleans (-td),
        # repeated flags adding up, "--" before the image, --rm accepted.
        name = unique('forms')
        p = self.ctl('run', '-eA=1', '-e=B=2', '--env', 'C=3', '--rm', '-tdq', '--name=' + name,
                     '--', IMAGE, 'sleep', '60', status=0)
        self.assertEqual(p.stdout, name + '\n')
        self.addCleanup(self.finish, name)
        c = self.api.inspect(self.api.containers('org.dms.execution=' + name)[0]['Id'])
        for kv in ('A=1', 'B=2', 'C=3'):
            self.assertIn(kv, c['Config']['Env'])
        self.assertTrue(c['Config']['Tty'])
        # Output and exit code as before: CMD as given, no shell implied.
        p = self.ctl('run', IMAGE, 'sh', '-c', 'echo hi; exit 3', status=3)
        self.assertEqual(p.stdout, 'hi\n')

    def test_logs_timestamps(self):
        stamp = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (.*)$')

        def lines(text):
            out = []
            for ln in text.splitlines():
                m = stamp.match(ln)
                self.assertTrue(m, 'no stamp: %r in %r' % (ln, text))
                out.append(m.groups())
            return out

        name = unique('ts')
        self.ctl('run', '-d', '--name', name, IMAGE, 'sh', '-c',
                 'echo a; echo b >&2; sleep 1; echo c', status=0)
        # Following while it runs: from the engine.
        p = self.ctl('logs', '-f', '-t', name, status=0)
        out, err = lines(p.stdout), lines(p.stderr)
        self.assertEqual([t for _, t in out], ['a', 'c'])
        self.assertEqual([t for _, t in err], ['b'])
        self.assertGreater(out[1][0], out[0][0])  # a second apart, in order
        res = json.loads(self.ctl('--json', 'wait', name, status=0).stdout)
        # After the harvest: from the spool, the same stamps.
        p = self.ctl('logs', '--timestamps', name, status=0)
        self.assertEqual(lines(p.stdout), out)
        self.assertEqual(lines(p.stderr), err)
        self.assertLessEqual(res['started_at'][:19], out[0][0][:19])
        self.assertLessEqual(out[1][0][:19], res['finished_at'][:19])
        p = self.ctl('logs', '-t', '-n', '1', name, status=0)
        self.assertEqual(lines(p.stdout), out[1:])
        p = self.ctl('logs', name, status=0)  # without -t: no stamps
        self.assertEqual(p.stdout, 'a\nc\n')
        name = unique('ts-tty')
        self.ctl('run', '-t', '--name', name, IMAGE, 'true', status=0)
        p = self.ctl('logs', '-t', name, status=1)
        self.assertIn('timestamps: %s has a TTY' % name, p.stderr)

    # --- refused flags --------------------------------------------------------

    def refused_flags_from_help(self):
        """(short letter or None, long name) of every refused flag, read from
        `dmsctl run --help` (the table's own list)."""
        p = self.ctl('run', '--help', status=0)
        section = p.stdout.split("docker run's flags that the executor cannot honour")[1]
        out = []
        for ln in section.splitlines()[1:]:
            m = re.match(r'^  (?:-(\w), )?\s*--([\w-]+)\s+\S', ln)
            if m:
                out.append((m.group(1), m.group(2)))
        return out

    def test_refused_flags(self):
        flags = self.refused_flags_from_help()
        self.assertGreaterEqual(len(flags), 70, flags)
        for must in ('privileged', 'pid', 'ipc', 'device', 'security-opt', 'restart',
                     'interactive', 'add-host', 'dns', 'ulimit', 'hostname', 'memory-swap'):
            self.assertIn(must, [f[1] for f in flags])
        for letter, name in flags:
            with self.subTest(flag=name):
                msg = self.refused('--' + name, 'x', says='--%s is not supported: ' % name)
                self.refused('--%s=x' % name, says='--%s is not supported: ' % name)
                self.assertGreater(len(msg.split('is not supported: ')[1].strip()), 10)
                if letter:
                    self.refused('-' + letter, 'x', says='--%s is not supported' % name)
        # -it, docker's habit: -i is refused by name, not swallowed.
        self.refused('-it', says='--interactive is not supported: jobs have no stdin')

    def test_unknown_and_bad_values(self):
        self.refused('--bogus', says='unknown flag: --bogus')
        self.refused('--bogus=1', says='unknown flag: --bogus')
        self.refused('-Z', says="unknown shorthand flag: 'Z' in -Z")
        self.refused('-tZ', says="unknown shorthand flag: 'Z' in -tZ")
        self.refused('--memory', 'lots', says='--memory: wants a size like 64m, got "lots"')
        self.refused('--cpus', '-1', says='--cpus: wants a number > 0')
        self.refused('--pids-limit', 'many', says='--pids-limit: wants a number')
        self.refused('--stop-signal', 'NOPE', says='--stop-signal: wants a signal name')
        self.refused('--stop-timeout', 'soon', says='--stop-timeout: wants seconds')
        self.refused('--timeout', '-1', says='--timeout: wants seconds')
        self.refused('--read-only=maybe', says='--read-only: is a boolean')
        self.refused('-e', '=x', says='--env: wants K=V with a non-empty K')
        self.refused('-l', '=x', says='--label: wants K=V with a non-empty K')
        self.refused('--env-file', '/nonexistent/env', says='--env-file: /nonexistent/env: '
                     'No such file or directory')
        self.refused('-u', '', says='--user: must not be empty')
        p = self.ctl('run', '--volume', status=2)
        self.assertIn('flag needs an argument: --volume', p.stderr)
        p = self.ctl('run', '-v', status=2)
        self.assertIn("flag needs an argument: 'v' in -v", p.stderr)
        p = self.ctl('run', '-d', status=2)
        self.assertIn('IMAGE is required', p.stderr)
        # The executor's own checks still name the request field.
        p = self.ctl('run', '--cap-add', 'FLY', IMAGE, 'true', status=125)
        self.assertIn('engine_spec.params.cap_add[0]: must be a capability name', p.stderr)

    def test_help_lists_every_flag(self):
        p = self.ctl('run', '--help', status=0)
        for flag in ('-v, --volume', '--mount', '-p, --publish', '--network', '-u, --user',
                     '--entrypoint', '--read-only', '--cap-add', '--cap-drop', '--pids-limit',
                     '--cpuset-cpus', '--gpus', '--stop-signal', '--stop-timeout',
                     '-l, --label', '--pull', '-t, --tty', '-d, --detach', '-e, --env',
                     '-w, --workdir', '--cpus', '-m, --memory', '--name', '--rm', '--timeout',
                     '--results-dir'):
            self.assertIn(flag, p.stdout)
        self.assertIn('-> inputs[]', p.stdout)
        self.assertIn('-> engine_spec.params.ports[]', p.stdout)


class RunFlagsHost(dmshost.EngineHostTestCase):
    # Non-empty: EngineHostTestCase makes the class executor from
    # engine_config(), which adds run_flags_config().
    extra_config = '# dmsctl run flags\n'

    @classmethod
    def engine_config(cls, extra=None):
        return super().engine_config(extra) + run_flags_config(cls.state_dir)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.write_config()


@dmshost.requires_engine
class RunFlagsDocker(RunFlagsBase, RunFlagsHost):
    runtime = 'docker'


@dmshost.requires_engine
class RunFlagsPodman(RunFlagsBase, RunFlagsHost):
    runtime = 'podman'


if __name__ == '__main__':
    unittest.main()
