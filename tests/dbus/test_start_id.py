"""test_start_id.py — Start hands back the execution id the executor used
(the request's, or the run-<unix seconds>-<8 hex digits> it generated), so
no client — and not dms-host — parses or rewrites a request to learn it;
Run of a request without an id, JSON or YAML, waits for the one the
executor generated (docs/dbus.md)."""
import json
import re
import unittest

import dmshost
from dmshost import CALL_TIMEOUT, IMAGE, HostTestCase

GENERATED = re.compile(r'^run-[0-9]+-[0-9a-f]{8}$')


def request_without_id(script):
    return {'job_id': 'sid', 'engine_spec': {'type': 'docker', 'params': {
        'image': IMAGE, 'entrypoint': ['/bin/sh', '-c'], 'cmd': [script]}}}


@dmshost.requires_engine
class StartId(HostTestCase):

    def test_start_returns_the_requests_id(self):
        eid, req = dmshost.job('exit 4')
        got = self.ex.Start(req, timeout=CALL_TIMEOUT)
        self.assertEqual(str(got), eid)
        res = json.loads(self.ex.Wait(eid, timeout=CALL_TIMEOUT))
        self.assertEqual(res['exit_code'], 4, res)

    def test_start_generates_an_id(self):
        got = str(self.ex.Start(json.dumps(request_without_id('echo gen; exit 3')),
                                timeout=CALL_TIMEOUT))
        self.assertRegex(got, GENERATED)
        res = json.loads(self.ex.Wait(got, timeout=CALL_TIMEOUT))
        self.assertEqual((res['exit_code'], res['stdout']), (3, 'gen\n'), res)

    def test_run_without_id_json_and_yaml(self):
        res = json.loads(self.ex.Run(json.dumps(request_without_id('echo j; exit 6')),
                                     timeout=CALL_TIMEOUT))
        self.assertEqual((res['exit_code'], res['stdout']), (6, 'j\n'), res)
        yaml = ('job_id: sid\nengine_spec:\n  type: docker\n  params:\n'
                '    image: %s\n    entrypoint: ["/bin/sh", "-c"]\n'
                '    cmd: ["echo y; exit 5"]\n' % IMAGE)
        res = json.loads(self.ex.Run(yaml, timeout=CALL_TIMEOUT))
        self.assertEqual((res['exit_code'], res['stdout']), (5, 'y\n'), res)


if __name__ == '__main__':
    unittest.main()
