"""test_dmsctl_units.py — dmsctl reads sizes with the executor's units
parser (docs/config.md, "Units"), so a size means for `dmsctl run` what it
means in a request or the config: `--memory 64MB` is 64,000,000 bytes,
`--memory 64m` 64 MiB, and what is not a size (`inf`, `nan`) is refused
before anything runs. The limit is read back from the container's cgroup,
which is what the request's resources.memory.size became."""
import os
import tempfile
import unittest

import dmshost
from dmshost import IMAGE
from test_dmsctl import CtlMixin

# cgroup v2, else v1: the memory limit the engine gave the container.
READ_LIMIT = ('cat /sys/fs/cgroup/memory.max 2>/dev/null || '
              'cat /sys/fs/cgroup/memory/memory.limit_in_bytes')


@dmshost.requires_engine
class MemorySizes(unittest.TestCase, CtlMixin):
    """Embedded mode (no dms-host on the bus): the CLI's own parsing."""

    @classmethod
    def setUpClass(cls):
        cls.bus = dmshost.PrivateBus()
        cls.state_dir = tempfile.mkdtemp(prefix='dms-state-')
        cls.ctl_executor = dmshost.unique('units')
        cls.config_file = os.path.join(cls.state_dir, 'executor.yaml')
        with open(cls.config_file, 'w') as f:
            f.write(dmshost.executor_config(cls.state_dir))

    @classmethod
    def tearDownClass(cls):
        try:
            p = cls.ctl(cls, 'cleanup')
            assert p.returncode == 0, p.stderr
        finally:
            cls.bus.stop()

    def test_sizes_as_the_config_reads_them(self):
        for flag, limit in (('64MB', '64000000'), ('64m', '67108864')):
            with self.subTest(memory=flag):
                p = self.ctl('run', '--memory', flag, IMAGE, '--', 'sh', '-c', READ_LIMIT,
                             check_status=0)
                self.assertEqual(p.stdout.strip(), limit,
                                 '--memory %s: the container got %r, want %s' %
                                 (flag, p.stdout, limit))

    def test_not_a_size_is_refused(self):
        for flag in ('inf', 'nan', '-1', '64x', '1e9'):
            with self.subTest(memory=flag):
                p = self.ctl('run', '--memory', flag, IMAGE, '--', 'true', check_status=2)
                self.assertIn('--memory: wants a size', p.stderr)


if __name__ == '__main__':
    unittest.main()
