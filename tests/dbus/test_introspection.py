"""test_introspection.py — the committed docs/org.dms.Executor.xml equals
what `dms-host --print-introspection` generates from the method tables, and
a live dms-host serves exactly those interfaces, plus the standard ones,
and a walkable object tree. Needs a bus, not an engine (executors are only
introspected when an engine is there)."""
import os
import subprocess
import tempfile
import unittest
import xml.etree.ElementTree as ET

import dmshost
from dmshost import (BUS_NAME, CALL_TIMEOUT, DMS_HOST, MANAGER_IFACE, MANAGER_PATH,
                     SOURCE_DIR, dbus)

DOC = os.path.join(SOURCE_DIR, 'docs', 'org.dms.Executor.xml')


def interfaces(xml):
    root = ET.fromstring(xml)
    found = {}
    for i in root.findall('interface'):
        i.tail = None  # the whitespace after it depends on what follows
        found[i.get('name')] = ET.tostring(i)
    return found


def introspect(conn, path):
    obj = conn.get_object(BUS_NAME, path, introspect=False)
    return str(obj.Introspect(dbus_interface='org.freedesktop.DBus.Introspectable',
                              timeout=CALL_TIMEOUT))


class Introspection(unittest.TestCase):

    def test_committed_xml_matches_tables(self):
        out = subprocess.run([DMS_HOST, '--print-introspection'], capture_output=True,
                             text=True, timeout=30, check=True).stdout
        with open(DOC) as f:
            self.assertEqual(f.read(), out,
                             'docs/org.dms.Executor.xml is stale: regenerate it with '
                             'dms-host --print-introspection')
        self.assertEqual(set(interfaces(out)), {'org.dms.ExecutorManager1', 'org.dms.Executor1'})

    def test_live_objects(self):
        with open(DOC) as f:
            documented = interfaces(f.read())
        bus = dmshost.PrivateBus()
        host = dmshost.Host(bus)
        conn = bus.connect()
        try:
            std = {'org.freedesktop.DBus.Introspectable', 'org.freedesktop.DBus.Properties',
                   'org.freedesktop.DBus.Peer'}
            live = interfaces(introspect(conn, MANAGER_PATH))
            self.assertEqual(set(live), std | {MANAGER_IFACE})
            self.assertEqual(live[MANAGER_IFACE], documented[MANAGER_IFACE])
            # The tree is walkable from the root.
            for path, child in (('/', 'org'), ('/org', 'dms'), ('/org/dms', 'Executor')):
                nodes = [n.get('name') for n in ET.fromstring(introspect(conn, path))
                         .findall('node')]
                self.assertEqual(nodes, [child], path)
            if dmshost.engine_available():
                manager = dbus.Interface(conn.get_object(BUS_NAME, MANAGER_PATH), MANAGER_IFACE)
                eid = dmshost.unique('i')
                path = manager.NewExecutor(
                    eid, dmshost.executor_config(tempfile.mkdtemp(prefix='dms-state-')),
                    timeout=CALL_TIMEOUT)
                live = interfaces(introspect(conn, path))
                self.assertEqual(live['org.dms.Executor1'], documented['org.dms.Executor1'])
                nodes = [n.get('name') for n in ET.fromstring(introspect(conn, MANAGER_PATH))
                         .findall('node')]
                self.assertEqual(nodes, [path.rsplit('/', 1)[1]])
                manager.RemoveExecutor(eid, timeout=CALL_TIMEOUT)
        finally:
            dmshost.teardown(conn=conn, host=host, bus=bus)


if __name__ == '__main__':
    unittest.main()
