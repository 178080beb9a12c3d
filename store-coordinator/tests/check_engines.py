"""Checks the engines rule (sc_engine.h, ARCHITECTURE.md): no engine source
includes czmq.h or zmq.h, directly or through a project header, and none
calls a clock or touches a socket. Usage: check_engines.py ROOT FILE.c...
(ROOT: the source tree, whose store-coordinator/, common/ and proto/ hold
the project headers). Exit 0 when every engine is pure, 1 naming each
violation."""
import os
import re
import sys

FORBIDDEN_HEADERS = {"czmq.h", "zmq.h", "civetweb.h", "pthread.h"}
# Calls an engine must not make: it is given the time and owns no socket.
FORBIDDEN_CALLS = re.compile(
    r"\b(clock_gettime|gettimeofday|time|cmn_clock_mono_ns|cmn_clock_wall_ns|"
    r"cmn_clock_now_mono_ns|zsock_\w+|zmq_\w+|zloop_\w+|sleep|usleep|"
    r"nanosleep)\s*\(")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def find_header(root, name):
    for folder in ("store-coordinator", "common", "proto"):
        path = os.path.join(root, folder, name)
        if os.path.exists(path):
            return path
    return None


def violations(root, source):
    found = []
    seen = set()
    todo = [(source, [os.path.basename(source)])]
    while todo:
        path, chain = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        text = open(path, encoding="utf-8").read()
        for _, name in INCLUDE.findall(text):
            if os.path.basename(name) in FORBIDDEN_HEADERS:
                found.append("%s includes %s" % (" -> ".join(chain), name))
            header = find_header(root, name)
            if header:
                todo.append((header, chain + [name]))
    code = re.sub(r"/\*.*?\*/", "", open(source, encoding="utf-8").read(),
                  flags=re.S)
    for match in FORBIDDEN_CALLS.finditer(code):
        found.append("%s calls %s" % (os.path.basename(source),
                                      match.group(1)))
    return found


def main():
    root, sources = sys.argv[1], sys.argv[2:]
    if not sources:
        print("usage: check_engines.py ROOT FILE.c...", file=sys.stderr)
        return 2
    problems = []
    for source in sources:
        problems += violations(root, source)
    for problem in problems:
        print("engine rule broken: %s" % problem)
    if not problems:
        print("%d engines pure: %s" % (
            len(sources), " ".join(os.path.basename(s) for s in sources)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
