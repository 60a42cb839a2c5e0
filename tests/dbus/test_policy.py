"""test_policy.py — host/dist/org.dms.Executor.conf on a private bus with the
system bus's default policy: root owns the name and may call everything;
another user (nobody) may introspect, read properties and call IsInstalled,
and is denied every method that starts, stops, reads or waits for a job.
Needs root (to run a client as nobody) and the engine."""
import os
import subprocess
import tempfile
import textwrap
import unittest

import dmshost
from dmshost import (BUS_NAME, CALL_TIMEOUT, EXECUTOR_IFACE, MANAGER_IFACE, MANAGER_PATH,
                     SOURCE_DIR, dbus, job)

POLICY = os.path.join(SOURCE_DIR, 'host', 'dist', 'org.dms.Executor.conf')
SYSTEM_PYTHON = '/usr/bin/python3'  # readable by nobody, with python3-dbus

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%(dir)s/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <include>%(policy)s</include>
</busconfig>
"""

# Runs as nobody: prints one line per call, "ok" or the error name.
CLIENT = textwrap.dedent('''
    import sys
    sys.path.append("/usr/lib/python3/dist-packages")
    import dbus
    c = dbus.bus.BusConnection(sys.argv[1])
    path, eid = sys.argv[2], sys.argv[3]
    calls = [
        ("IsInstalled", path, "org.dms.Executor1", "IsInstalled", "", ()),
        ("Introspect", path, "org.freedesktop.DBus.Introspectable", "Introspect", "", ()),
        ("Get", path, "org.freedesktop.DBus.Properties", "Get", "ss",
         ("org.dms.Executor1", "Id")),
        ("GetAll", path, "org.freedesktop.DBus.Properties", "GetAll", "s",
         ("org.dms.Executor1",)),
        ("Ping", path, "org.freedesktop.DBus.Peer", "Ping", "", ()),
        ("Start", path, "org.dms.Executor1", "Start", "s", ("{}",)),
        ("Run", path, "org.dms.Executor1", "Run", "s", ("{}",)),
        ("Wait", path, "org.dms.Executor1", "Wait", "s", (eid,)),
        ("Cancel", path, "org.dms.Executor1", "Cancel", "s", (eid,)),
        ("GetLogStream", path, "org.dms.Executor1", "GetLogStream", "s",
         ('{"execution_id": "%%s"}' %% eid,)),
        ("Cleanup", path, "org.dms.Executor1", "Cleanup", "", ()),
        ("List", path, "org.dms.Executor1", "List", "", ()),
        ("NewExecutor", "%(manager)s", "%(miface)s", "NewExecutor", "ss", ("x", "")),
        ("RemoveExecutor", "%(manager)s", "%(miface)s", "RemoveExecutor", "s", ("x",)),
        ("ListExecutors", "%(manager)s", "%(miface)s", "ListExecutors", "", ()),
    ]
    for name, p, iface, member, sig, args in calls:
        try:
            c.call_blocking("%(bus_name)s", p, iface, member, sig, args, timeout=60)
            print(name, "ok", flush=True)
        except dbus.DBusException as e:
            print(name, e.get_dbus_name(), flush=True)
''') % {'manager': MANAGER_PATH, 'miface': MANAGER_IFACE, 'bus_name': BUS_NAME}

ALLOWED = {'IsInstalled', 'Introspect', 'Get', 'GetAll', 'Ping'}


@unittest.skipUnless(os.geteuid() == 0, 'needs root to run a client as nobody')
@unittest.skipUnless(os.path.exists(SYSTEM_PYTHON), 'needs ' + SYSTEM_PYTHON)
@dmshost.requires_engine
class SystemBusPolicy(unittest.TestCase):

    def test_policy(self):
        tmp = tempfile.mkdtemp(prefix='dms-sysbus-')
        os.chmod(tmp, 0o755)
        conf = os.path.join(tmp, 'bus.conf')
        with open(conf, 'w') as f:
            f.write(BUS_CONFIG % {'dir': tmp, 'policy': POLICY})
        bus = dmshost.PrivateBus(config_file=conf)
        address = bus.address
        try:
            # Fails, with its log, unless dms-host owns its name on the bus.
            host = dmshost.Host(bus, system=True)
        except Exception:
            dmshost.teardown(bus=bus, dirs=[tmp])
            raise
        conn = bus.connect()
        try:
            # Root: everything.
            manager = dbus.Interface(conn.get_object(BUS_NAME, MANAGER_PATH), MANAGER_IFACE)
            eid = dmshost.unique('pol')
            path = manager.NewExecutor(eid, dmshost.executor_config(tmp), timeout=CALL_TIMEOUT)
            ex = dbus.Interface(conn.get_object(BUS_NAME, path), EXECUTOR_IFACE)
            xid, req = job('echo as root')
            self.assertIn('as root', ex.Run(req, timeout=CALL_TIMEOUT))
            # nobody: read-only surface.
            p = subprocess.run([SYSTEM_PYTHON, '-c', CLIENT, address, path, xid],
                               user=65534, group=65534, extra_groups=[], capture_output=True,
                               text=True, timeout=300, cwd='/')
            self.assertEqual(p.returncode, 0, p.stderr)
            results = dict(line.split() for line in p.stdout.splitlines())
            for name, outcome in sorted(results.items()):
                with self.subTest(method=name):
                    if name in ALLOWED:
                        self.assertEqual(outcome, 'ok')
                    else:
                        self.assertEqual(outcome, 'org.freedesktop.DBus.Error.AccessDenied')
            self.assertEqual(len(results), 15, p.stdout)
            ex.Cleanup(timeout=CALL_TIMEOUT)
            manager.RemoveExecutor(eid, timeout=CALL_TIMEOUT)
        finally:
            dmshost.teardown(conn=conn, host=host, bus=bus, dirs=[tmp])


if __name__ == '__main__':
    unittest.main()
