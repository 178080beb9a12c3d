"""The pipeline's engines stay pure: none of the given sources (the pl_core
library: window, bucket, rate coordinator, policy, feedback, providers) nor
the pipeline headers they include pull in czmq or libzmq, or read a clock
other than the cmn_clock_t they are handed (no clock_gettime, time(),
gettimeofday, cmn_clock_now_*). Fails naming the file and the line.

usage: check_engines.py SOURCE.c...
"""
import os
import re
import sys

FORBIDDEN = [
    (re.compile(r'#\s*include\s*[<"](czmq|zmq)\.h[>"]'), "includes czmq/zmq"),
    (re.compile(r'\bclock_gettime\s*\('), "reads the system clock"),
    (re.compile(r'\bgettimeofday\s*\('), "reads the system clock"),
    (re.compile(r'\btime\s*\(\s*NULL\s*\)'), "reads the system clock"),
    (re.compile(r'\bcmn_clock_now_\w+\s*\('), "reads the system clock"),
]
LOCAL_INCLUDE = re.compile(r'#\s*include\s*"(pl_\w+\.h)"')


def main():
    sources = sys.argv[1:]
    if not sources:
        print("no sources given")
        return 1
    seen, todo, problems = set(), list(sources), []
    while todo:
        path = todo.pop()
        if path in seen or not os.path.exists(path):
            continue
        seen.add(path)
        if path.endswith(".c"):
            todo.append(path[:-2] + ".h")
        with open(path) as handle:
            for number, line in enumerate(handle, 1):
                for pattern, what in FORBIDDEN:
                    if pattern.search(line):
                        problems.append("%s:%d: %s: %s"
                                        % (path, number, what, line.strip()))
                match = LOCAL_INCLUDE.search(line)
                if match:
                    todo.append(os.path.join(os.path.dirname(path),
                                             match.group(1)))
    for problem in problems:
        print(problem)
    print("%d engine files checked, %d problems" % (len(seen), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
