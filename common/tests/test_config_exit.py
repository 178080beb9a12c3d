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

code, out, err = run(['--version'])
if code != 0 or out != 'mds-demo 9.9.9\n':
    failures.append(f'--version: exit {code}, stdout {out!r}')

for failure in failures:
    print('FAIL', failure)
print(f'{len(failures)} failures')
sys.exit(1 if failures else 0)
