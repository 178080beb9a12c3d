#!/usr/bin/env python3
"""Runs config_demo with bad and good configurations and checks the exit
code (2 for usage errors) and the one-line message naming the source."""
import os
import subprocess
import sys

DEMO = sys.argv[1]
failures = []


def run(args, env=None):
    clean = {k: v for k, v in os.environ.items() if not k.startswith('MDS_')}
    clean.update(env or {})
    result = subprocess.run([DEMO] + args, env=clean, capture_output=True,
                            text=True, timeout=20)
    return result.returncode, result.stdout, result.stderr


def expect_usage(args, env, message):
    code, out, err = run(args, env)
    if code != 2 or err != 'mds-demo: ' + message + '\n' or out != '':
        failures.append(f'{args} {env}: exit {code}, stderr {err!r}, '
                        f'wanted exit 2 and {message!r}')


expect_usage([], {'MDS_QUEUE_CAPACITY': 'abc'},
             "invalid MDS_QUEUE_CAPACITY='abc': "
             'must be an integer in [1, 10000000]')
expect_usage([], {'MDS_QUEUE_CAPACITY': '-5'},
             "invalid MDS_QUEUE_CAPACITY='-5': "
             'must be an integer in [1, 10000000]')
expect_usage(['--queue-capacity=-5'], {'MDS_QUEUE_CAPACITY': '100'},
             "invalid --queue-capacity='-5': "
             'must be an integer in [1, 10000000]')
expect_usage(['--queue-capacity', '12x'], {},
             "invalid --queue-capacity='12x': "
             'must be an integer in [1, 10000000]')
expect_usage([], {'MDS_QUEUE_CAPACITY': '99999999999999999999'},
             "invalid MDS_QUEUE_CAPACITY='99999999999999999999': "
             'must be an integer in [1, 10000000]')
expect_usage([], {'MDS_LOG_LEVEL': 'loud'},
             "invalid MDS_LOG_LEVEL='loud': "
             'must be one of: error, warning, info, debug')
expect_usage([], {'MDS_LOW_WATERMARK': 'half'},
             "invalid MDS_LOW_WATERMARK='half': must be a number in [0, 1]")
expect_usage(['--low-watermark', 'nan'], {},
             "invalid --low-watermark='nan': must be a number in [0, 1]")
expect_usage([], {'MDS_ENABLE_FEEDBACK': 'maybe'},
             "invalid MDS_ENABLE_FEEDBACK='maybe': "
             'must be a boolean (true/false, yes/no, on/off, 1/0)')
expect_usage(['--bogus'], {}, 'unknown option --bogus (see --help)')
expect_usage(['--bogus=1'], {}, 'unknown option --bogus (see --help)')
expect_usage(['-x'], {}, 'unknown option -x (see --help)')
expect_usage(['--queue-capacity'], {},
             'option --queue-capacity needs a value (see --help)')
expect_usage([], {'MDS_LOW_WATERMARK': '0.9'},
             "invalid MDS_LOW_WATERMARK='0.9': "
             'must be below the high watermark')

# A good configuration: flag beats variable, bare boolean, positionals.
code, out, err = run(['--queue-capacity', '500', 'dlq', '--enable-feedback',
                      'false', '--log-level=DEBUG', '--', '--not-a-flag'],
                     {'MDS_QUEUE_CAPACITY': '7', 'MDS_LOW_WATERMARK': '0.25',
                      'MDS_ADMIN_TOKEN': 's3cret'})
wanted = ('queue-capacity=500 (--queue-capacity)\nlow-watermark=0.25\n'
          'log-level=debug\nenable-feedback=0\nadmin-token=s3cret\n'
          'positional=dlq\npositional=--not-a-flag\n')
if code != 0 or out != wanted or err != '':
    failures.append(f'good run: exit {code}, stdout {out!r}, stderr {err!r}')

code, out, err = run(['--enable-feedback'], {'MDS_ENABLE_FEEDBACK': 'no',
                                             'MDS_QUEUE_CAPACITY': '7'})
if code != 0 or 'enable-feedback=1\n' not in out or \
        'queue-capacity=7 (MDS_QUEUE_CAPACITY)' not in out:
    failures.append(f'bare bool: exit {code}, stdout {out!r}')

code, out, err = run(['--help'], {'MDS_QUEUE_CAPACITY': 'abc'})
if code != 0 or err != '' or not all(
        word in out for word in ('--queue-capacity', 'MDS_QUEUE_CAPACITY',
                                 '10000', 'records the queue holds',
                                 '--version', 'MDS_ADMIN_TOKEN')):
    failures.append(f'--help: exit {code}, stdout {out!r}, stderr {err!r}')

# --help fits 80 columns: descriptions wrap below their option, an option
# whose flag, variable and default do not fit on one line shows its default
# on a line of its own; every word of the long description is still there.
code, out, err = run(['--help'])
wide = [line for line in out.splitlines() if len(line) > 80]
if code != 0 or wide:
    failures.append(f'--help lines over 80 columns: {wide!r}')
lines = out.splitlines()
head = [i for i, line in enumerate(lines)
        if line.startswith('  --provider-long-name')]
if not head or lines[head[0]].split()[1:] != [
        'MDS_PROVIDER_LONG_NAME_SYMBOLS'] or \
        lines[head[0] + 1].split() != ['default:', 'AAPL,MSFT,GOOG,AMZN,NVDA,TSLA']:
    failures.append(f'--help: the wide option is not as expected: {out!r}')
described = ' '.join(' '.join(lines[head[0] + 2:head[0] + 6]).split())
if not described.startswith('symbols of the provider, comma-separated; a '
                            'description long enough') or \
        'a-word-that-is-itself-rather-long-to-wrap-at-all' not in described:
    failures.append(f'--help: the wrapped description lost words: '
                    f'{described!r}')
row = [line for line in lines if line.startswith('  --queue-capacity')]
if not row or row[0].split() != ['--queue-capacity', 'MDS_QUEUE_CAPACITY',
                                 '10000']:
    failures.append(f'--help: the queue capacity row is {row!r}')

# --help-options=tsv: the table for the man page and completion generator.
code, out, err = run(['--help-options=tsv'], {'MDS_QUEUE_CAPACITY': 'abc'})
rows = [line.split('\t') for line in out.splitlines()
        if not line.startswith('#')]
meta = dict(line[1:].split('\t', 1) for line in out.splitlines()
            if line.startswith('#'))
by_flag = {row[0]: row for row in rows[1:]}
if code != 0 or err != '' or rows[0] != [
        'flag', 'variable', 'type', 'default', 'min', 'max', 'choices',
        'description'] or any(len(row) != 8 for row in rows):
    failures.append(f'--help-options=tsv: exit {code}, {out!r}, {err!r}')
elif meta != {'program': 'mds-demo', 'version': '9.9.9',
              'summary': 'A demo of cmn_config.'} or \
        by_flag['queue-capacity'] != ['queue-capacity', 'MDS_QUEUE_CAPACITY',
                                      'int', '10000', '1', '10000000', '',
                                      'records the queue holds'] or \
        by_flag['log-level'][2:7] != ['choice', 'info', '', '',
                                      'error|warning|info|debug'] or \
        by_flag['admin-token'][2:4] != ['string', ''] or \
        by_flag['enable-feedback'][2] != 'bool' or len(by_flag) != 7:
    failures.append(f'--help-options=tsv rows: {by_flag!r} {meta!r}')

code, out, err = run(['--version'])
if code != 0 or out != 'mds-demo 9.9.9\n':
    failures.append(f'--version: exit {code}, stdout {out!r}')

for failure in failures:
    print('FAIL', failure)
print(f'{len(failures)} failures')
sys.exit(1 if failures else 0)
