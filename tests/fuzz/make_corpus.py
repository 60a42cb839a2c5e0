#!/usr/bin/env python3
"""make_corpus.py — writes the committed seed corpus of the libFuzzer
harnesses (tests/fuzz/corpus/<harness>/), so the seeds are reviewable and
can be regenerated: real requests (the full request example of
docs/schema.md in JSON and YAML, every optional field, log requests), the
documented bad inputs, configs, framed log streams (synthetic frames plus a
real capture of a busybox job's /logs, tests/fuzz/corpus/docker-logs-capture.bin, when present), and
engine answers (event streams, inspect and list documents, pull streams:
synthetic, plus real captures in tests/fuzz/corpus/engine-capture/).

Run: python3 tests/fuzz/make_corpus.py   (idempotent; file names are stable)
"""
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, 'corpus')


def put(harness, name, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


# --- requests ---------------------------------------------------------------

DESIGN_JSON = '''{"job_id": "j1", "execution_id": "e1",
 "engine_spec": {"type": "docker",
   "params": {"image": "dms-test/busybox:latest", "entrypoint": ["/bin/sh", "-c"],
              "cmd": ["echo hello"], "environment": ["A=1"], "working_directory": "/"}},
 "resources": {"cpu": {"cores": 0.5}, "memory": {"size": 67108864}, "gpus": []},
 "inputs": [{"type": "bind", "source": "/tmp", "target": "/in", "read_only": true}],
 "outputs": [{"source": "out", "target": "/out"}],
 "results_dir": "/var/lib/dms/results/e1"}'''

DESIGN_YAML = '''# the full request example (docs/schema.md), as a person would write it
job_id: j1
execution_id: e1
engine_spec:
  type: docker
  params:
    image: dms-test/busybox:latest
    entrypoint: [/bin/sh, -c]
    cmd:
      - echo hello
    environment: ["A=1"]
    working_directory: /
resources:
  cpu: {cores: 0.5}
  memory:
    size: 67108864
  gpus: []
inputs:
  - type: bind
    source: /tmp
    target: /in
    read_only: true
outputs:
  - source: out
    target: /out
results_dir: /var/lib/dms/results/e1
'''

FULL_YAML = '''job_id: j1
execution_id: e1
engine_spec:
  type: docker
  params:
    image: dms-test/busybox:latest
    entrypoint: [/bin/sh, -c]
    cmd:
      - echo hello
    environment: ["A=1"]
    working_directory: /
    user: "1000:1000"          # quoted: a string
    labels:
      team: infra
    network_mode: none
    stop_signal: SIGTERM
    stop_timeout: 10s
    pull_policy: if-not-present
    tty: false
resources:
  cpu: {cores: 0.5}
  memory:
    size: 64MiB
  pids:
    limit: 256
  gpus: []
inputs:
  - type: bind
    source: /tmp
    target: /in
    read_only: true
outputs:
  - source: out
    target: /out
results_dir: /var/lib/dms/results/e1
timeout: 1h
'''

FULL_JSON = ('{"job_id":"job-7","execution_id":"exec:7.a_b",\n'
             ' "engine_spec":{"type":"podman","params":{"image":"alpine",\n'
             '   "user":"1000:1000","labels":{"team":"infra","tier":""},\n'
             '   "network_mode":"none","stop_signal":"term","stop_timeout":"1m30s",\n'
             '   "pull_policy":"never","tty":true,"environment":["EMPTY=","X=a=b"]}},\n'
             ' "resources":{"cpu":{"cores":2},"memory":{"size":"64MiB"},'
             '"pids":{"limit":100}},\n'
             ' "inputs":[{"source":"/tmp","target":"/data/","read_only":false}],\n'
             ' "timeout":2.5}')


def min_req(params='', top=''):
    return ('{"job_id":"j1","execution_id":"e1","engine_spec":{"type":"docker",'
            '"params":{"image":"i"%s}}%s}' % (params, top))


REQUESTS = {
    'design-example.json': DESIGN_JSON,
    'design-example.yaml': DESIGN_YAML,
    'every-field.yaml': FULL_YAML,
    'every-field.json': FULL_JSON,
    'minimal.json': min_req(),
    'minimal.yaml': 'job_id: j1\nexecution_id: e1\nengine_spec: {type: docker, params: {image: i}}\n',
    'flow.yaml': '{job_id: j1, execution_id: e1, engine_spec: {type: docker, params: {image: i}}}',
    'signal-number.json': min_req(',"stop_signal":9,"stop_timeout":0'),
    'signal-rt.json': min_req(',"stop_signal":"SIGRTMIN+3"'),
    'memory-float.json': min_req('', ',"resources":{"memory":{"size":6.7108864e7}}'),
    'memory-string.yaml': 'job_id: j1\nexecution_id: e1\nengine_spec: {type: docker, params: {image: i}}\nresources: {memory: {size: "1.5g"}}\n',
    'network-host.json': min_req(',"network_mode":"host","tty":false'),
    'nulls.json': min_req(',"user":null,"cmd":null', ',"resources":null,"timeout":null'),
    'nulls.yaml': 'job_id: j1\nexecution_id: e1\nengine_spec:\n  type: docker\n  params:\n    image: i\n    user: ~\n    cmd:\nresources:\n',
    'log-request.json': '{"execution_id": "e1", "follow": true, "tail": false, "lines": 10, "format": "plain"}',
    'log-request-min.json': '{"execution_id":"e1"}',
    'log-request.yaml': 'execution_id: e1\nfollow: true\nformat: framed\nlines: 0\n',
    'log-request-bad.json': '{"execution_id":"e1","lines":-1,"format":"xml"}',
    # the documented bad inputs (docs/schema.md, tests/unit/test_request.c)
    'bad-empty.txt': '  \n\t ',
    'bad-invalid-json.json': '{"job_id": }',
    'bad-trailing.json': min_req() + ' {}',
    'bad-nul-escape.json': min_req(',"user":"a\\u0000b"'),
    'bad-array.json': '[1,2]',
    'bad-scalar.yaml': 'hello',
    'bad-unknown-key.json': min_req(',"imagee":"x"'),
    'bad-cores.json': min_req('', ',"resources":{"cpu":{"cores":"x"}}'),
    'bad-gpus.json': min_req('', ',"resources":{"gpus":[{"count":1}]}'),
    'bad-dotdot.json': min_req('', ',"inputs":[{"source":"/tmp/..","target":"/in"}]'),
    'bad-same-target.json': min_req('', ',"results_dir":"/r","inputs":[{"source":"/tmp","target":"/in"}],"outputs":[{"source":"o","target":"/in/"}]'),
    'bad-timeout.json': min_req('', ',"timeout":1e10'),
    'bad-duplicate.yaml': 'job_id: j1\nexecution_id: e1\njob_id: j2\n',
    'bad-alias.yaml': 'job_id: &a j1\nexecution_id: *a\n',
    'bad-two-docs.yaml': 'job_id: j1\n---\njob_id: j2\n',
    'bad-complex-key.yaml': '? [a]\n: b\n',
    'bad-indent.yaml': 'job_id: j1\n  bad: indent\n',
    'bad-yes.yaml': 'job_id: j1\nexecution_id: e1\nengine_spec:\n  type: docker\n  params:\n    image: i\n    tty: yes\n',
    'bad-str-tag.yaml': 'job_id: j1\nexecution_id: e1\nengine_spec:\n  type: docker\n  params:\n    image: i\n    tty: !!str true\n',
    'bad-nested-cmd.yaml': 'job_id: j1\nexecution_id: e1\nengine_spec:\n  type: docker\n  params:\n    image: i\n    cmd:\n      - ok\n      - [nested]\n',
    'bad-deep.json': '{"a":' * 40 + '1' + '}' * 40,
    'bad-deep.yaml': '[' * 40 + ']' * 40,
    'bad-invalid-utf8.json': b'{"job_id":"\xff\xfe","execution_id":"e1"}',
    'bad-bom.yaml': b'\xef\xbb\xbfjob_id: j1\n',
    'bad-anchor-tag.yaml': '--- !!map\n&x job_id: !<tag:x> j1\n',
    'bad-big-number.json': min_req('', ',"resources":{"pids":{"limit":99999999999999999999999}}'),
    'bad-labels.json': min_req(',"labels":{"org.dms.executor":"x","=":"y"}'),
    'bad-env.json': min_req(',"environment":["=x","NOEQ"]'),
}

# --- configs -----------------------------------------------------------------

CONFIGS = {
    'design.yaml': 'runtime: docker            # docker | podman | swarm | auto\n'
                   'host: unix:///var/run/docker.sock\nstate_dir: /var/lib/dms-executor\n'
                   'stop_timeout: 10s\noutput_limit: 1MiB\nretention: 1h\n',
    'every-key.yaml': 'runtime: podman\nhost: unix:///run/podman/podman.sock\n'
                      'state_dir: /var/lib/dms\nstop_timeout: 1m30s\noutput_limit: 256KiB\n'
                      'retention: 2h\nlog_spool_limit: 64MB\nresults_file_limit: 1.5g\n'
                      'stop_signal: sigterm\n',
    'flow.yaml': '{runtime: podman, stop_timeout: 30s, output_limit: 256KiB}',
    'comments-only.yaml': '# nothing here\n',
    'null.yaml': '~',
    'empty-map.yaml': '{}',
    'null-values.yaml': 'host:\nstate_dir: ~\nstop_signal: null\n',
    'signal-number.yaml': 'stop_signal: 9\nstop_timeout: 0\n',
    'durations.yaml': 'stop_timeout: 250ms\nretention: 1d 2h 3m 4s 5ms 6us 7ns\n',
    'sizes.yaml': 'output_limit: 0\nlog_spool_limit: 1 TiB\nresults_file_limit: 512k\n',
    'test-config.yaml': 'runtime: docker\nhost: unix:///tmp/dms-run/docker.sock\n'
                        'state_dir: /tmp/dms-state\nstop_timeout: 2s\n',
    'bad-unknown.yaml': 'runtime: docker\nbogus: 1\n',
    'bad-runtime.yaml': 'runtime: Docker\n',
    'bad-duplicate.yaml': 'runtime: docker\nruntime: podman\n',
    'bad-relative-state.yaml': 'state_dir: var/lib\n',
    'bad-duration.yaml': 'stop_timeout: -1s\n',
    'bad-size.yaml': 'output_limit: 1.5\n',
    'bad-signal.yaml': 'stop_signal: SIGFOO\n',
    'bad-signal-number.yaml': 'stop_signal: 65\n',
    'bad-sequence.yaml': '- runtime\n- docker\n',
    'bad-nested.yaml': 'runtime: {a: b}\n',
    'bad-complex-key.yaml': '? [a]\n: b\n',
    'bad-two-docs.yaml': 'runtime: docker\n---\nruntime: podman\n',
    'bad-alias.yaml': 'runtime: &r docker\nhost: *r\n',
    'bad-alias-key.yaml': 'a: &k x\n*k : y\n',
    'bad-syntax.yaml': 'runtime: docker\n  host: x\n',
    'bad-tab.yaml': 'runtime:\tdocker\n\thost: x\n',
    'bad-huge-number.yaml': 'stop_timeout: ' + '9' * 400 + '\n',
    'bad-deep.yaml': 'runtime: ' + '[' * 60 + ']' * 60 + '\n',
    'bad-utf8.yaml': b'runtime: \xff\xfe\n',
}

# --- framed log streams ------------------------------------------------------


def frame(stream, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return struct.pack('>BxxxI', stream, len(payload)) + payload


def demux_input(stream_bytes, flags=0, splits=(), stop=0):
    """fuzz_demux's layout: flags, n, n split offsets, stop, bytes."""
    head = bytes([flags, len(splits)])
    for s in splits:
        head += struct.pack('>H', s)
    return head + struct.pack('>H', stop) + stream_bytes


def spool_input(file_bytes, skip_out=0, skip_err=0, limit=0):
    return bytes([skip_out, skip_err]) + struct.pack('>H', limit) + file_bytes


STREAMS = {
    'hello': frame(1, 'hello\n'),
    'both': frame(1, 'out 1\n') + frame(2, 'err 1\n') + frame(1, 'out 2\n'),
    'empty-frame': frame(1, '') + frame(2, 'x') + frame(1, ''),
    'no-newline': frame(1, 'last line without newline'),
    'binary': frame(1, bytes(range(256))) + frame(2, b'\xff\xfe\x00\x80'),
    'stdin-frame': frame(0, 'stdin?') + frame(1, 'ok\n'),
    'bad-stream': frame(1, 'ok\n') + frame(3, 'bad'),
    'truncated-header': frame(1, 'ok\n') + b'\x01\x00\x00',
    'truncated-payload': frame(2, 'ok\n') + b'\x01\x00\x00\x00\x00\x00\x00\x10abc',
    'many-lines': b''.join(frame(1 + i % 2, 'line %d\n' % i) for i in range(60)),
    'big-size': b'\x01\x00\x00\x00\xff\xff\xff\xff' + b'x' * 32,
}

CAPTURE = os.path.join(CORPUS, 'docker-logs-capture.bin')

# --- engine answers (fuzz_events, fuzz_engine_json) ---------------------------
# Real answers of the test engines (dockerd 20.10, Podman 4), captured once
# into corpus/engine-capture/: an /events stream of a test run, inspect and
# list documents of a labelled busybox job with a bind mount.
ENGINE_CAPTURE = os.path.join(CORPUS, 'engine-capture')


def split_head(splits=()):
    """split.h's layout: n, then n 16-bit offsets."""
    return bytes([len(splits)]) + b''.join(struct.pack('>H', s) for s in splits)


def events_input(stream, flags=0, splits=()):
    return bytes([flags]) + split_head(splits) + stream


DIE = ('{"status":"die","id":"c1","Type":"container","Action":"die","Actor":{"ID":"c1",'
       '"Attributes":{"exitCode":"%s","org.dms.execution":"e1","org.dms.executor":"x"}},'
       '"time":1700000000,"timeNano":1700000000123456789}\n')
EVENTS = {
    'die': DIE % '3',
    'die-bad-code': DIE % '3x',
    'podman-die': DIE.replace('exitCode', 'containerExitCode') % '137',
    'oom-start-destroy': ''.join(
        '{"Type":"container","Action":"%s","Actor":{"ID":"c2","Attributes":{}},"time":1}\n' % a
        for a in ('start', 'oom', 'die', 'destroy', 'exec_start: sh')),
    'old-format': '{"status":"die","id":"c3","time":5}\n',
    'network': '{"Type":"network","Action":"destroy","Actor":{"ID":"n1"}}\n',
    'junk-lines': 'not json\n\n   \r\n{"Type":"container"}\n' + DIE % '0',
    'no-final-newline': (DIE % '1').rstrip('\n'),
}

PULL = {
    'pull-ok': ''.join('{"status":"%s","progressDetail":{"current":%d,"total":100},"id":"l%d"}\n'
                       % (st, c, i % 2) for i, (st, c) in
                       enumerate((('Downloading', 10), ('Downloading', 60), ('Extracting', 100)))
                       ) + '{"status":"Status: Downloaded newer image for x:1"}\n',
    'pull-error': '{"status":"Pulling fs layer","id":"a"}\n'
                  '{"errorDetail":{"message":"denied"},"error":"denied"}\n{"status":"after"}\n',
    'pull-libpod': '{"stream":"Copying blob sha256:abc\\n"}\n{"stream":"Writing manifest\\n"}\n',
}


def main():
    for name, text in REQUESTS.items():
        put('fuzz_request', name, text)
    # The host's JSON reader sees the same requests (D-Bus Run), plus escapes
    # where it and yajl could disagree on the execution id.
    for name, text in REQUESTS.items():
        if name.endswith('.json'):
            put('fuzz_host_json', name, text)
    put('fuzz_host_json', 'escapes.json',
        '{"job_id":"j","execution_id":"e\\u0031","x":"\\ud83d\\ude00"}')
    put('fuzz_host_json', 'escaped-key.json', '{"execution\\u005fid":"a","execution_id":"b"}')
    for name, text in CONFIGS.items():
        put('fuzz_config', name, text)
    streams = dict(STREAMS)
    if os.path.exists(CAPTURE):
        with open(CAPTURE, 'rb') as f:
            streams['docker-capture'] = f.read()
    for name, data in streams.items():
        put('fuzz_demux', name, demux_input(data))
        put('fuzz_spool', name, spool_input(data))
    # Split points inside headers and payloads, a stopping sink, TTY mode.
    both = STREAMS['both']
    put('fuzz_demux', 'both-split', demux_input(both, splits=(1, 7, 8, 9, 20, 27)))
    put('fuzz_demux', 'both-stop', demux_input(both, flags=2, splits=(3, 15), stop=5))
    put('fuzz_demux', 'tty-raw', demux_input(b'raw tty bytes\r\n\x1b[0m', flags=1, splits=(4,)))
    many = STREAMS['many-lines']
    put('fuzz_demux', 'many-split', demux_input(many, splits=tuple(range(3, len(many), 37))[:15]))
    # Skips inside frames, limits that cut a record.
    put('fuzz_spool', 'both-skip', spool_input(both, skip_out=1, skip_err=1))
    put('fuzz_spool', 'many-limit', spool_input(many, limit=100))
    put('fuzz_spool', 'many-skip-limit', spool_input(many, skip_out=20, skip_err=3, limit=7))
    # Engine event streams: synthetic, and the capture whole and cut.
    for name, text in EVENTS.items():
        put('fuzz_events', name, events_input(text.encode()))
    put('fuzz_events', 'die-stop', events_input((DIE % '2' * 3).encode(), flags=4 * 2,
                                                splits=(5, 100, 101)))
    put('fuzz_events', 'die-key-only', events_input((DIE % '2').encode(), flags=2))
    for name, text in PULL.items():
        put('fuzz_engine_json', name, split_head((7, 40)) + text.encode())
    if os.path.isdir(ENGINE_CAPTURE):
        for name in sorted(os.listdir(ENGINE_CAPTURE)):
            with open(os.path.join(ENGINE_CAPTURE, name), 'rb') as f:
                data = f.read()
            if name.endswith('.jsonl'):
                put('fuzz_events', 'capture-' + name, events_input(data, splits=(64, 300, 301)))
                put('fuzz_events', 'capture-podman-' + name, events_input(data, flags=1))
            else:
                put('fuzz_engine_json', 'capture-' + name, split_head() + data)
    print('corpus written to', CORPUS)


if __name__ == '__main__':
    main()
