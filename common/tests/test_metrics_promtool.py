#!/usr/bin/env python3
"""Renders a registry with metrics_dump and checks it with
`promtool check metrics`: exit 0 and no output. Skips (77) without promtool."""
import os
import subprocess
import sys
import tempfile

dump = sys.argv[1]
promtool = sys.argv[2] if len(sys.argv) > 2 else ''
if not promtool:
    print('SKIP: promtool not found (Debian package prometheus)')
    sys.exit(77)

with tempfile.TemporaryDirectory() as scratch:
    path = os.path.join(scratch, 'metrics.txt')
    subprocess.run([dump, path], check=True, timeout=30)
    with open(path, 'rb') as rendering:
        text = rendering.read()
    sys.stdout.write(text.decode('utf-8'))
    for needle in (b'pg \\"main\\"', b'fail\\\\ed\\n', b'le="+Inf"',
                   b'NaN', b'-Inf', b'# TYPE mds_dlq_records_total counter',
                   b'# TYPE process_cpu_seconds_total counter',
                   b'process_open_fds ', b'mds_build_info{version="1.0.0"} 1'):
        if needle not in text:
            print(f'FAIL: rendering lacks {needle!r}')
            sys.exit(1)
    with open(path, 'rb') as rendering:
        result = subprocess.run([promtool, 'check', 'metrics'],
                                stdin=rendering, capture_output=True,
                                timeout=30)
    if result.returncode != 0 or result.stdout or result.stderr:
        print(f'FAIL: promtool exit {result.returncode}, '
              f'output {result.stdout!r} {result.stderr!r}')
        sys.exit(1)
print('promtool check metrics: exit 0, no output')
