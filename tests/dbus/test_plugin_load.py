"""test_plugin_load.py — dms-host and dmsctl refuse plugins they cannot use
(missing file, relative path, not a plugin, wrong ABI major) with a message
naming the path and the reason and a non-zero exit, and a second dms-host
cannot steal the bus name. Needs a bus, not an engine."""
import os
import subprocess
import unittest

import dmshost
from dmshost import BAD_ABI_PLUGIN, DMS_HOST, DMSCTL, PLUGIN


def run(argv, bus=None, timeout=60):
    env = dict(os.environ)
    if bus:
        env['DBUS_SESSION_BUS_ADDRESS'] = bus.address
    else:
        env.pop('DBUS_SESSION_BUS_ADDRESS', None)
    p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout + p.stderr


class PluginLoad(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.bus = dmshost.PrivateBus()

    @classmethod
    def tearDownClass(cls):
        dmshost.teardown(bus=cls.bus)

    def check_refused(self, plugin, *fragments):
        for argv in ([DMS_HOST, '--session', '--plugin', plugin],
                     [DMSCTL, '--embedded', '--plugin', plugin, 'info']):
            with self.subTest(argv=argv[0]):
                status, out = run(argv, self.bus)
                self.assertNotEqual(status, 0, out)
                self.assertIn(plugin, out)
                for f in fragments:
                    self.assertIn(f, out)
                self.assertNotIn('AddressSanitizer', out)

    def test_missing_file(self):
        self.check_refused('/nonexistent/dms-executor.so', 'cannot load plugin',
                           'No such file')

    def test_relative_path(self):
        self.check_refused('lib/dms-executor.so', 'must be absolute')

    def test_not_a_plugin(self):
        libm = next(p for p in ('/lib/x86_64-linux-gnu/libm.so.6', '/usr/lib/libm.so.6',
                                '/lib64/libm.so.6') if os.path.exists(p))
        self.check_refused(libm, 'not an executor plugin', 'dms_executor_plugin_entry')

    def test_not_a_shared_object(self):
        self.check_refused(os.path.abspath(__file__), 'cannot load plugin')

    def test_wrong_abi_major(self):
        self.assertTrue(os.path.exists(BAD_ABI_PLUGIN), 'build dms-bad-abi-plugin')
        self.check_refused(BAD_ABI_PLUGIN, 'ABI major 999', 'speaks 1')

    def test_name_already_owned(self):
        host = dmshost.Host(self.bus, ['--plugin', PLUGIN])
        try:
            status, out = run([DMS_HOST, '--session', '--plugin', PLUGIN], self.bus)
            self.assertNotEqual(status, 0, out)
            self.assertIn('already owned', out)
        finally:
            dmshost.teardown(host=host)

    def test_no_bus(self):
        env_bus = dmshost.PrivateBus()
        address = env_bus.address
        env_bus.stop()  # a bus address nobody listens on
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address)
        p = subprocess.run([DMS_HOST, '--session'], env=env, capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('cannot connect to the session bus', p.stderr)

    def test_bad_usage(self):
        status, out = run([DMS_HOST, '--bogus'])
        self.assertEqual(status, 2, out)
        status, out = run([DMS_HOST, '--help'])
        self.assertEqual(status, 0, out)
        self.assertIn('--plugin', out)


if __name__ == '__main__':
    unittest.main()
