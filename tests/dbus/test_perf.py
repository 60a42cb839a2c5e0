"""test_perf.py — measurements for the closing note, printed in the test
output: the median IsInstalled round trip over the bus, and Run(`true`)
over the bus vs the same Run in-process (dms-bench-run loads the plugin
directly). The assertions are only sanity bounds; the numbers are the
point."""
import json
import os
import statistics
import subprocess
import time
import unittest

import dmshost
from dmshost import BINARY_DIR, CALL_TIMEOUT, IMAGE, PLUGIN, HostTestCase, job

BENCH = os.path.join(BINARY_DIR, 'bin', 'dms-bench-run')
N_RUNS = int(os.environ.get('DMS_PERF_RUNS', '10'))


@dmshost.requires_engine
class Perf(HostTestCase):

    def test_1_is_installed_round_trip(self):
        self.ex.IsInstalled(timeout=CALL_TIMEOUT)
        times = []
        for _ in range(200):
            t0 = time.perf_counter()
            self.ex.IsInstalled(timeout=CALL_TIMEOUT)
            times.append((time.perf_counter() - t0) * 1000)
        med = statistics.median(times)
        print('\n  IsInstalled over the bus: median %.2f ms, p90 %.2f ms (n=200)' %
              (med, sorted(times)[179]))
        # The same round trip without an engine call: what the host adds.
        props = dmshost.dbus.Interface(self.ex_obj, dmshost.PROPS_IFACE)
        times = []
        for _ in range(200):
            t0 = time.perf_counter()
            props.Get(dmshost.EXECUTOR_IFACE, 'Id', timeout=CALL_TIMEOUT)
            times.append((time.perf_counter() - t0) * 1000)
        print('  Properties.Get(Id) over the bus (no engine call): median %.2f ms' %
              statistics.median(times))
        self.assertLess(med, 1000)

    def test_2_run_true_bus_vs_in_process(self):
        self.run_job(None, cmd=['true'])  # warm-up
        bus = []
        for _ in range(N_RUNS):
            eid, req = job(cmd=['true'])
            t0 = time.perf_counter()
            res = json.loads(self.ex.Run(req, timeout=CALL_TIMEOUT))
            bus.append((time.perf_counter() - t0) * 1000)
            self.assertEqual(res['exit_code'], 0, res)
        p = subprocess.run([BENCH, PLUGIN, dmshost.unique('bench'), self.config, IMAGE,
                            str(N_RUNS)], capture_output=True, text=True, timeout=600,
                           env=dict(os.environ, DOCKER_HOST=dmshost.DOCKER_HOST))
        self.assertEqual(p.returncode, 0, p.stderr)
        fields = dict((line.split()[0], line.split()[1:]) for line in p.stdout.splitlines())
        inproc = float(fields['run_ms'][0])
        med = statistics.median(bus)
        print('\n  Run(true) over the bus: median %.1f ms (min %.1f, max %.1f, n=%d)' %
              (med, min(bus), max(bus), N_RUNS))
        print('  Run(true) in-process:   median %.1f ms (min %s, max %s, n=%d)' %
              (inproc, fields['run_ms'][1], fields['run_ms'][2], N_RUNS))
        print('  IsInstalled in-process: median %s ms' % fields['is_installed_ms'][0])
        print('  bus overhead per Run: %.1f ms' % (med - inproc))
        self.assertLess(med, 30000)


if __name__ == '__main__':
    unittest.main()
