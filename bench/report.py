"""report.py — turns the measurements of one `bench/run.sh` run into the
results table (printed, and optionally written to docs/performance.md) and
the machine-readable bench/results/latest.json, and checks the issue's
targets (PASS / MISS; n/a where a column failed).

    python3 report.py PARTS_DIR META_JSON OUT_JSON OUT_TXT [DOC_MD]

PARTS_DIR holds one file per tool invocation, named
SECTION__ENGINE__VARIANT__PARAM__ROUND.json, whose content is what the tool
printed, or {"error": "..."} when it failed. Uses the standard library only.
"""
import glob
import json
import math
import os
import sys

ENGINES = ('docker', 'podman')

LATENCY_VARIANTS = [
    ('raw', 'raw Engine API: create/start/wait/delete (C, keep-alive)'),
    ('bus_run', 'executor: Run over D-Bus (libdbus client)'),
    ('dmsctl', 'executor: `dmsctl run` via dms-host'),
    ('inproc', 'executor: in-process through the ABI'),
    ('cli', '`docker run --rm` / `podman --remote run --rm`'),
    ('dockerpy', 'docker-py `containers.run(remove=True)`'),
]
TPUT_VARIANTS = [
    ('raw', 'raw Engine API'),
    ('inproc', 'executor in-process (Run)'),
    ('bus', 'executor over D-Bus (Run)'),
]
LOG_VARIANTS = [
    ('raw', 'raw `GET /logs?follow=1`'),
    ('bus', 'GetLogStream(follow) fd over D-Bus'),
    ('inproc', 'get_log_stream(follow) in-process'),
]
EXIT_VARIANTS = [
    ('raw', 'raw `POST /wait` reply'),
    ('bus', 'Wait reply over D-Bus'),
    ('inproc', 'wait() return in-process'),
]


def load_parts(parts_dir):
    """{(section, engine, variant, param): [doc per round]}"""
    parts = {}
    for path in sorted(glob.glob(os.path.join(parts_dir, '*.json'))):
        name = os.path.basename(path)[:-5]
        fields = name.split('__')
        if len(fields) != 5:
            continue
        section, engine, variant, param, _round = fields
        try:
            with open(path) as f:
                text = f.read().strip()
            doc = json.loads(text.splitlines()[-1]) if text else {'error': 'no output'}
        except (OSError, ValueError, IndexError) as e:
            doc = {'error': 'unreadable output: %s' % e}
        parts.setdefault((section, engine, variant, param), []).append(doc)
    return parts


def median(v):
    s = sorted(v)
    n = len(s)
    if not n:
        return None
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def p90(v):
    s = sorted(v)
    if not s:
        return None
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def first_error(docs):
    for d in docs:
        if 'error' in d:
            return d['error']
    return None


def sample_stats(docs, key='samples_ms'):
    """Concatenates the samples of every round; None if any round failed."""
    if not docs or first_error(docs) is not None:
        return None
    v = [x for d in docs for x in d.get(key, [])]
    if not v:
        return None
    return {'n': len(v), 'median': median(v), 'p90': p90(v), 'min': min(v), 'max': max(v),
            'samples': v}


def fmt(x, digits=0, suffix=''):
    if x is None:
        return 'n/a'
    return ('%.' + str(digits) + 'f%s') % (x, suffix)


def fmt_ratio(x):
    return 'n/a' if x is None else '%.2f×' % x


def table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    out = ['| ' + ' | '.join(str(h).ljust(w) for h, w in zip(header, widths)) + ' |',
           '|' + '|'.join('-' * (w + 2) for w in widths) + '|']
    for r in rows:
        out.append('| ' + ' | '.join(str(c).ljust(w) for c, w in zip(r, widths)) + ' |')
    return out


def analyse(parts):
    res = {'latency': {}, 'tput': {}, 'logs': {}, 'scale': {}, 'exit': {}, 'errors': {}}
    for (section, engine, variant, param), docs in parts.items():
        err = first_error(docs)
        if err is not None:
            res['errors']['%s/%s/%s/%s' % (section, engine, variant, param)] = err
    for e in ENGINES:
        lat = res['latency'][e] = {}
        for v, _ in LATENCY_VARIANTS:
            st = sample_stats(parts.get(('latency', e, v, '-'), []))
            if st and v == 'raw':
                docs = parts[('latency', e, v, '-')]
                st['steps_median_ms'] = {
                    k: median([x for d in docs for x in d.get(k + '_ms', [])])
                    for k in ('create', 'start', 'wait', 'delete')}
            lat[v] = st
        raw = lat.get('raw')
        for v, st in lat.items():
            if st and raw:
                st['ratio_to_raw'] = ratio(st['median'], raw['median'])
        tp = res['tput'][e] = {}
        for (section, eng, v, param), docs in parts.items():
            if section != 'tput' or eng != e:
                continue
            ok = [d for d in docs if 'error' not in d]
            if ok and len(ok) == len(docs):
                jobs = sum(d['jobs'] - d.get('failed', 0) for d in ok)
                secs = sum(d['seconds'] for d in ok)
                tp.setdefault(param, {})[v] = {'jobs': jobs, 'seconds': secs,
                                               'jobs_per_s': jobs / secs if secs else None}
            else:
                tp.setdefault(param, {})[v] = None
        for conc, vs in tp.items():
            raw = vs.get('raw')
            for v, st in vs.items():
                if st and raw:
                    st['ratio_to_raw'] = ratio(st['jobs_per_s'], raw['jobs_per_s'])
        lg = res['logs'][e] = {}
        for v, _ in LOG_VARIANTS:
            docs = parts.get(('logs', e, v, '-'), [])
            if docs and first_error(docs) is None:
                lg[v] = {'runs': len(docs),
                         'mb_per_s': median([d['mb_per_s'] for d in docs]),
                         'min_bytes': min(d['bytes'] for d in docs),
                         'expected': docs[0]['expected'],
                         'complete_runs': sum(d['bytes'] == d['expected'] for d in docs),
                         'eof_s': median([d['seconds'] for d in docs]),
                         'last_byte_s': median([d.get('last_byte_seconds', d['seconds'])
                                                for d in docs]),
                         'per_run': docs}
            else:
                lg[v] = None
        if lg.get('raw'):
            for v, st in lg.items():
                if st:
                    st['ratio_to_raw'] = ratio(st['mb_per_s'], lg['raw']['mb_per_s'])
        sc = res['scale'][e] = {}
        for (section, eng, v, param), docs in parts.items():
            if section == 'scale' and eng == e:
                d = docs[-1]
                sc[param] = None if 'error' in d else d
        ex = res['exit'][e] = {}
        for v, _ in EXIT_VARIANTS:
            ex[v] = sample_stats(parts.get(('exit', e, v, '-'), []))
        if ex.get('raw'):
            for v, st in ex.items():
                if st:
                    st['ratio_to_raw'] = ratio(st['median'], ex['raw']['median'])
    return res


def target_rows(res, scale_n):
    """(target, measured, verdict, ratio or None) rows."""
    rows = []

    def check(name, value, limit, le=True, shown=None):
        if value is None:
            rows.append((name, 'n/a', 'n/a'))
            return
        ok = value <= limit if le else value >= limit
        rows.append((name, shown if shown is not None else '%.2f' % value,
                     'PASS' if ok else 'MISS'))

    def lat(e, v):
        st = res['latency'][e].get(v)
        return st['median'] if st else None

    for v, label in (('bus_run', 'Run over D-Bus'), ('dmsctl', '`dmsctl run`')):
        check('docker: %s ≤ 0.95 × raw' % label, ratio(lat('docker', v), lat('docker', 'raw')), 0.95)
    for v, label in (('bus_run', 'Run over D-Bus'), ('dmsctl', '`dmsctl run`')):
        check('podman: %s ≤ 0.5 × raw compat' % label,
              ratio(lat('podman', v), lat('podman', 'raw')), 0.5)
    for e in ENGINES:
        cli = '`docker run --rm`' if e == 'docker' else '`podman run --rm`'
        check('%s: `dmsctl run` ≤ 0.8 × %s' % (e, cli), ratio(lat(e, 'dmsctl'), lat(e, 'cli')), 0.8)
        check('%s: Run over D-Bus ≤ 0.8 × %s' % (e, cli), ratio(lat(e, 'bus_run'), lat(e, 'cli')), 0.8)
        check('%s: Run over D-Bus ≤ 0.8 × docker-py' % e,
              ratio(lat(e, 'bus_run'), lat(e, 'dockerpy')), 0.8)
        check('%s: `dmsctl run` ≤ 0.8 × docker-py' % e,
              ratio(lat(e, 'dmsctl'), lat(e, 'dockerpy')), 0.8)
    for e in ENGINES:
        vs = res['tput'][e].get('4', {})
        for v, label in (('bus', 'over D-Bus'), ('inproc', 'in-process')):
            st = vs.get(v)
            check('%s: throughput at concurrency 4, %s ≥ 0.97 × raw' % (e, label),
                  st.get('ratio_to_raw') if st else None, 0.97, le=False)
    for e in ENGINES:
        for v, label in (('bus', 'GetLogStream fd over D-Bus'), ('inproc', 'in-process')):
            st = res['logs'][e].get(v)
            check('%s: log throughput, %s ≥ 0.9 × raw' % (e, label),
                  st.get('ratio_to_raw') if st else None, 0.9, le=False)
    for e in ENGINES:
        one, many = res['scale'][e].get('1'), res['scale'][e].get(str(scale_n))
        for key, label in (('threads', 'threads'), ('engine_conns', 'engine connections')):
            if one and many:
                a = one['with_waits_settled'][key]
                b = many['with_waits_settled'][key]
                rows.append(('%s: %s constant from 1 to %d waiting jobs' % (e, label, scale_n),
                             '%d → %d' % (a, b), 'PASS' if a == b else 'MISS'))
            else:
                rows.append(('%s: %s constant from 1 to %d waiting jobs' % (e, label, scale_n),
                             'n/a', 'n/a'))
        rss = many['with_waits_settled']['rss_kb'] / 1024 if many else None
        check('%s: dms-host RSS ≤ 16 MB at %d jobs' % (e, scale_n), rss, 16,
              shown=None if rss is None else '%.1f MB' % rss)
    return rows


def render(res, meta):
    scale_n = int(meta.get('scale_n', 200))
    out = []
    out.append('# dms-executor benchmark')
    out.append('')
    out.append('Run %s on %s (%s cores, load average %s at start, %s at end); '
               'build %s (%s), git %s. `bash bench/run.sh` with BENCH_RUNS=%s.' % (
                   meta.get('started', '?'), meta.get('hostname', '?'), meta.get('nproc', '?'),
                   meta.get('load_start', '?'), meta.get('load_end', '?'),
                   meta.get('build_dir', '?'), meta.get('build_type', '?'),
                   meta.get('git', '?'), meta.get('runs', '?')))
    if meta.get('load_by_section'):
        out.append('1-minute load average when each section started: %s.' % ', '.join(
            '%s %s' % (k, v) for k, v in meta['load_by_section'].items()))
    out.append('Engines: %s; image %s. Ratios are against the raw Engine API sequence on '
               'the same engine in the same run.' % (meta.get('engines_desc', '?'),
                                                      meta.get('image', '?')))
    out.append('')
    out.append('## 1. Latency of one `true` job (ms)')
    out.append('')
    hdr = ['variant']
    for e in ENGINES:
        hdr += ['%s median' % e, 'p90', '× raw']
    rows = []
    for v, label in LATENCY_VARIANTS:
        r = [label]
        for e in ENGINES:
            st = res['latency'][e].get(v)
            r += [fmt(st and st['median']), fmt(st and st['p90']),
                  fmt_ratio(st and st.get('ratio_to_raw'))]
        rows.append(r)
    out += table(hdr, rows)
    for e in ENGINES:
        st = res['latency'][e].get('raw')
        if st and st.get('steps_median_ms'):
            s = st['steps_median_ms']
            out.append('')
            out.append('%s raw steps (median ms): create %.0f, start %.0f, wait %.0f, delete %.0f '
                       '(n = %d).' % (e, s['create'], s['start'], s['wait'], s['delete'], st['n']))
    out.append('')
    out.append('## 2. Throughput (jobs/s, `true` jobs)')
    out.append('')
    concs = sorted({c for e in ENGINES for c in res['tput'][e]}, key=int)
    hdr = ['variant'] + ['%s c=%s' % (e, c) for e in ENGINES for c in concs]
    rows = []
    for v, label in TPUT_VARIANTS:
        r = [label]
        for e in ENGINES:
            for c in concs:
                st = res['tput'][e].get(c, {}).get(v)
                if not st:
                    r.append('n/a')
                elif v == 'raw':
                    r.append(fmt(st['jobs_per_s'], 2))
                else:
                    r.append('%s (%s)' % (fmt(st['jobs_per_s'], 2), fmt_ratio(st.get('ratio_to_raw'))))
        rows.append(r)
    out += table(hdr, rows)
    out.append('')
    out.append('## 3. Log throughput (one job writing %s bytes in 4001-byte lines, follow)'
               % meta.get('log_bytes', '?'))
    out.append('')
    hdr = ['variant'] + sum([['%s MB/s' % e, '× raw', 'last byte / EOF (s)', 'complete runs']
                             for e in ENGINES], [])
    rows = []
    for v, label in LOG_VARIANTS:
        r = [label]
        for e in ENGINES:
            st = res['logs'][e].get(v)
            r += [fmt(st and st['mb_per_s'], 1), fmt_ratio(st and st.get('ratio_to_raw')),
                  ('%.2f / %.2f' % (st['last_byte_s'], st['eof_s'])) if st else 'n/a',
                  ('%d/%d (min %.1f MB)' % (st['complete_runs'], st['runs'], st['min_bytes'] / 1e6))
                  if st else 'n/a']
        rows.append(r)
    out += table(hdr, rows)
    out.append('')
    out.append('MB/s = payload bytes received / time from the log request to EOF (median of '
               'the runs); "last byte" is when the last payload byte arrived. "complete" = every '
               'byte the job wrote arrived.')
    out.append('')
    out.append('## 4. Scale: N jobs started through dms-host, a Wait pending on each')
    out.append('')
    hdr = ['dms-host']
    cols = []
    for e in ENGINES:
        for n in ('1', str(scale_n)):
            hdr.append('%s N=%s' % (e, n))
            cols.append(res['scale'][e].get(n))

    def row(label, f):
        return [label] + [('n/a' if c is None else f(c)) for c in cols]

    rows = [
        row('threads (steady, idle workers gone)', lambda c: '%d' % c['with_waits_settled']['threads']),
        row('threads (right after the Starts)', lambda c: '%d' % c['with_waits']['threads']),
        row('threads (idle, before the jobs)', lambda c: '%d' % c['idle']['threads']),
        row('open fds (steady)', lambda c: '%d' % c['with_waits_settled']['fds']),
        row('engine connections (steady)', lambda c: '%d' % c['with_waits_settled']['engine_conns']),
        row('RSS MB (steady)', lambda c: '%.1f' % (c['with_waits_settled']['rss_kb'] / 1024)),
        row('RSS MB (idle, before the jobs)', lambda c: '%.1f' % (c['idle']['rss_kb'] / 1024)),
        row('of it anonymous / files MB (steady)',
            lambda c: '%.1f / %.1f' % (c['with_waits_settled'].get('rss_anon_kb', -1024) / 1024,
                                       c['with_waits_settled'].get('rss_file_kb', -1024) / 1024)),
        row('time to start all (s)', lambda c: '%.1f' % c['start_seconds']),
        row('exits spread over (ms)', lambda c: '%.0f' % c['exit_spread_ms']),
        row('last exit → last Wait reply (ms)', lambda c: '%.0f' % c['last_exit_to_last_reply_ms']),
        row('exit → Wait reply, median (ms)', lambda c: '%.0f' % median(c['exit_to_reply_ms'])),
        row('exit → Wait reply, p90 (ms)', lambda c: '%.0f' % p90(c['exit_to_reply_ms'])),
        row('dms-host CPU for the run (ms)', lambda c: '%.0f' % (c['after']['cpu_ms'] - c['idle']['cpu_ms'])),
    ]
    out += table(hdr, rows)
    out.append('')
    out.append('Jobs run `read x </gate/fifo; sleep %s` with a FIFO bound in: they block at no cost '
               'until all N run with their Waits pending, then are released together (at a few '
               'starts per second plain `sleep 30` jobs would not overlap). "steady" is sampled '
               'once the thread count has not changed for %ss (dms-host\'s idle pool workers exit '
               'after 30 s). Engine connections: dms-host\'s unix sockets whose peer is bound to '
               'the engine socket (sock_diag).' % (meta.get('scale_sleep', '?'),
                                                    meta.get('scale_settle', '?')))
    out.append('')
    out.append('## 5. Exit → reply (ms from the engine\'s `die` event, timeNano, to the reply; '
               '`sleep %s` jobs)' % meta.get('exit_sleep', '?'))
    out.append('')
    hdr = ['variant'] + sum([['%s median' % e, 'p90', '× raw'] for e in ENGINES], [])
    rows = []
    for v, label in EXIT_VARIANTS:
        r = [label]
        for e in ENGINES:
            st = res['exit'][e].get(v)
            r += [fmt(st and st['median'], 1), fmt(st and st['p90'], 1),
                  fmt_ratio(st and st.get('ratio_to_raw'))]
        rows.append(r)
    out += table(hdr, rows)
    out.append('')
    out.append('## Targets (issue 8)')
    out.append('')
    out += table(['target', 'measured', 'verdict'], [list(r) for r in target_rows(res, scale_n)])
    if res['errors']:
        out.append('')
        out.append('## Columns that failed (n/a)')
        out.append('')
        for k, v in sorted(res['errors'].items()):
            out.append('- `%s`: %s' % (k, v.strip().replace('\n', ' ')[:300]))
    return '\n'.join(out) + '\n'


BEGIN = '<!-- bench:results:begin (written by bench/report.py) -->'
END = '<!-- bench:results:end -->'


def write_doc(path, text):
    """Replaces the results between the markers of docs/performance.md, so
    the prose around them (conditions, changes, before/after) stays; a doc
    without the markers is written whole."""
    block = BEGIN + '\n' + text.split('\n', 1)[1].lstrip('\n') + END + '\n'
    try:
        with open(path) as f:
            old = f.read()
    except FileNotFoundError:
        old = ''
    if BEGIN in old and END in old:
        doc = old[:old.index(BEGIN)] + block + old[old.index(END) + len(END) + 1:]
    else:
        doc = '# Performance\n\n' + block
    with open(path, 'w') as f:
        f.write(doc)


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit('usage: report.py PARTS_DIR META_JSON OUT_JSON OUT_TXT [DOC_MD]')
    parts_dir, meta_path, out_json, out_txt = sys.argv[1:5]
    with open(meta_path) as f:
        meta = json.load(f)
    res = analyse(load_parts(parts_dir))
    text = render(res, meta)
    targets = [{'target': t, 'measured': m, 'verdict': v}
               for t, m, v in target_rows(res, int(meta.get('scale_n', 200)))]
    with open(out_json, 'w') as f:
        json.dump({'meta': meta, 'results': res, 'targets': targets}, f, indent=1)
        f.write('\n')
    with open(out_txt, 'w') as f:
        f.write(text)
    if len(sys.argv) == 6:
        write_doc(sys.argv[5], text)
    sys.stdout.write(text)


if __name__ == '__main__':
    main()
