#!/usr/bin/env python3
"""check_man.py -- the man pages and the bash completion cover the programs.

Reads what the built programs say about themselves and checks the sources
of the pages (man/*.scd) and of the completion (host/dist/dmsctl.bash):

- every command of `dmsctl --help` has a section (`## COMMAND`) in
  dmsctl(1), and every flag of `dmsctl COMMAND --help` appears in it,
  the docker flags it lists as refused too;
- every global option of `dmsctl --help` appears in its GLOBAL OPTIONS;
- every option of `dms-host --help` appears in dms-host(8);
- every key of the tables under "## Keys" in docs/config.md appears in
  dms-executor.yaml(5);
- the completion offers every command, global option and command flag,
  and none of the refused ones.

Usage: check_man.py DMSCTL DMS_HOST SOURCE_DIR
Exits 1 listing every item missing, after "N passed, M failed".
"""
import os
import re
import subprocess
import sys

FLAG = re.compile(r'(?<![\w-])(--?[A-Za-z][\w-]*)')


def run_help(argv):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    return p.stdout + p.stderr


def option_flags(text):
    """(accepted, refused) flags of a --help text: from option lines
    ("  -e, --env K=V   text": the part before the description) and from the
    usage line's brackets; those under a heading that says "refused" (docker
    flags dmsctl refuses by name) are the refused ones."""
    flags, refused = set(), set()
    into = flags
    for line in text.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith(':'):
            into = refused if 'refused' in line else flags
        m = re.match(r'^\s+(-\S.*?)(\s{2,}|$)', line)
        if m:
            into.update(FLAG.findall(m.group(1)))
        if line.startswith('Usage:'):
            flags.update(FLAG.findall(' '.join(re.findall(r'\[([^\]]*)\]', line))))
    flags.discard('--')
    return flags - refused, refused


def dmsctl_commands(text):
    """(command, global flags) from `dmsctl --help`."""
    commands, globals_ = [], set()
    section = None
    for line in text.splitlines():
        if line.startswith('Global options:'):
            section = 'global'
        elif line.startswith('Commands:'):
            section = 'commands'
        elif not line.strip():
            section = None if section == 'commands' else section
        elif section == 'global':
            m = re.match(r'^\s+(-\S.*?)(\s{2,}|$)', line)
            if m:
                globals_.update(FLAG.findall(m.group(1)))
        elif section == 'commands':
            # "ls", "ls|ps" or "ls, ps": each name is a command
            commands += [c for c in re.split(r'[|,/]', line.split()[0]) if c]
    return commands, globals_


def page_text(src, name):
    with open(os.path.join(src, 'man', name + '.scd'), encoding='utf-8') as f:
        return f.read().replace('\\', '')  # scdoc escapes (\_)


def sections(text, level):
    """{title: body} of the headings of that level ('#' or '##')."""
    out, title = {}, None
    for line in text.splitlines():
        m = re.match(r'^(#+) (.*)$', line)
        if m and len(m.group(1)) <= len(level):
            title = m.group(2).strip() if len(m.group(1)) == len(level) else None
            if title is not None:
                out[title] = ''
            continue
        if title is not None:
            out[title] += line + '\n'
    return out


def has(text, token):
    return re.search(r'(?<![\w.-])' + re.escape(token) + r'(?![\w-])', text) is not None


def config_keys(src):
    with open(os.path.join(src, 'docs', 'config.md'), encoding='utf-8') as f:
        text = f.read()
    m = re.search(r'^## Keys\n(.*?)(?=^## )', text, re.S | re.M)
    keys = []
    for line in (m.group(1) if m else '').splitlines():
        cells = line.split('|')
        if len(cells) > 2 and not re.match(r'^\s*-+\s*$', cells[1]):
            keys += re.findall(r'`([a-z_][a-z0-9_.]*)`', cells[1])
    return [k for k in keys if k != 'key']


def completion(src, script):
    path = os.path.join(src, 'host', 'dist', 'dmsctl.bash')
    p = subprocess.run(['bash', '-c', 'source "$0"; ' + script, path], capture_output=True,
                       text=True, timeout=30)
    return p.stdout.split()


def main():
    dmsctl, dms_host, src = sys.argv[1:4]
    missing, checked = [], 0

    def need(ok, what):
        nonlocal checked
        checked += 1
        if not ok:
            missing.append(what)

    top = run_help([dmsctl, '--help'])
    commands, global_flags = dmsctl_commands(top)
    need(len(commands) >= 5 and len(global_flags) >= 5,
         'dmsctl --help: could not read its commands and global options')
    ctl = page_text(src, 'dmsctl.1')
    ctl_sections = sections(ctl, '##')
    ctl_top = sections(ctl, '#')
    comp_commands = completion(src, 'echo $_dmsctl_commands')
    comp_globals = completion(src, 'echo $_dmsctl_global_opts')

    for flag in sorted(global_flags):
        need(has(ctl_top.get('GLOBAL OPTIONS', ''), flag),
             'dmsctl(1) GLOBAL OPTIONS: no %s' % flag)
        need(flag in comp_globals, 'completion: no global option %s' % flag)
    for cmd in commands:
        body = next((b for t, b in ctl_sections.items()
                     if cmd in re.split(r'[\s,]+', t)), None)
        need(body is not None, 'dmsctl(1): no section for the command %s' % cmd)
        need(cmd in comp_commands, 'completion: no command %s' % cmd)
        comp_flags = completion(src, '_dmsctl_command_opts ' + cmd)
        flags, refused = option_flags(run_help([dmsctl, cmd, '--help']))
        for flag in sorted(flags | refused):
            need(body is not None and has(body, flag),
                 'dmsctl(1) section %s: no %s' % (cmd, flag))
        # The completion offers what works, not what is refused.
        for flag in sorted(flags):
            need(flag in comp_flags, 'completion: dmsctl %s has no %s' % (cmd, flag))
        for flag in sorted(refused):
            need(flag not in comp_flags, 'completion: dmsctl %s offers the refused %s' %
                 (cmd, flag))

    host = page_text(src, 'dms-host.8')
    host_flags = set().union(*option_flags(run_help([dms_host, '--help'])))
    need(len(host_flags) >= 5, 'dms-host --help: could not read its options')
    for flag in sorted(host_flags):
        need(has(host, flag), 'dms-host(8): no %s' % flag)

    conf = page_text(src, 'dms-executor.yaml.5')
    keys = config_keys(src)
    need(len(keys) >= 10, 'docs/config.md: could not read the keys table')
    for key in keys:
        need(has(conf, key), 'dms-executor.yaml(5): no key %s' % key)

    for what in missing:
        print('missing:', what)
    print('%d commands, %d global options, %d dms-host options, %d config keys' %
          (len(commands), len(global_flags), len(host_flags), len(keys)))
    print('%d passed, %d failed' % (checked - len(missing), len(missing)))
    return 1 if missing else 0


if __name__ == '__main__':
    sys.exit(main())
