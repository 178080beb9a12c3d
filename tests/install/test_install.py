#!/usr/bin/python3
"""libmdbp as a third party gets it (issue 14), from a fresh install.

`meson setup -Dcodec_only=true --prefix=TMP` of this source tree and
`ninja install`, then, with PKG_CONFIG_PATH pointing into TMP only (no
build-tree path anywhere):
- the installed files: the public headers and no internal one, headers that
  include nothing but the C library and <mdbp/...>, a soname with a version,
  a shared library exporting exactly the functions its headers declare, a
  .pc file without msgpack in its public requirements;
- each header compiles alone as C11 and as C++11 (-Wpedantic -Werror);
- proto/API.md's complete example builds and runs;
- consumer.c (shared and static libmdbp) and consumer.cpp build with
  `pkg-config --cflags --libs mdbp` and run against a live mds-coordinator:
  a batch acked, redelivered as duplicates, a feedback message decoded; the
  rows are in the coordinator's database.
Usage: test_install.py SOURCE_ROOT MESON mds-coordinator consumer.c
       consumer.cpp API.md"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT, MESON, COORDINATOR, CONSUMER_C, CONSUMER_CXX, API_MD = sys.argv[1:7]
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import harness  # noqa: E402

HEADERS = {"mdbp.h", "buffer.h", "common.h", "feedback.h", "ingest.h",
           "subscription.h", "text.h"}
SONAME = "libmdbp.so.1"
C_FLAGS = ["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]
CXX_FLAGS = ["-std=c++11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]
STEP_TIMEOUT_S = 120  # one build step; the whole test is far below
CONSUMER_TIMEOUT_S = 40  # a consumer waits at most 10 s per step
CONSUMER_C_RECORDS = 30  # as consumer.c and consumer.cpp send
CONSUMER_CXX_RECORDS = 12


def run(command, env=None, cwd=None):
    """Runs `command`; fails with its output when it does not exit 0."""
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True,
                            text=True, timeout=STEP_TIMEOUT_S)
    harness.check(result.returncode == 0,
                  "%s exited %d:\n%s%s" % (" ".join(command),
                                           result.returncode, result.stdout,
                                           result.stderr))
    return result.stdout


def install(work):
    """A fresh build of the codec installed into work/prefix."""
    build, prefix = os.path.join(work, "build"), os.path.join(work, "prefix")
    env = dict(os.environ)
    env.pop("DESTDIR", None)
    run([MESON, "setup", build, ROOT, "--prefix", prefix,
         "-Dcodec_only=true", "-Dtests=disabled"], env=env)
    run(["ninja", "-C", build, "install"], env=env)
    found = glob.glob(os.path.join(prefix, "**", "pkgconfig", "mdbp.pc"),
                      recursive=True)
    harness.check(len(found) == 1, "one mdbp.pc under %s: %s" % (prefix, found))
    return prefix, os.path.dirname(found[0])


def pkg_config(env, *args):
    return run(["pkg-config"] + list(args), env=env).split()


def check_files(prefix, env):
    include = os.path.join(prefix, "include", "mdbp")
    headers = set(os.listdir(include))
    harness.check(headers == HEADERS, "installed headers %s, expected %s"
                  % (sorted(headers), sorted(HEADERS)))
    declared = set()
    for name in sorted(headers):
        with open(os.path.join(include, name)) as handle:
            text = handle.read()
        for included in re.findall(r'#include\s+([<"][^>"]+[>"])', text):
            harness.check(re.fullmatch(r"<(mdbp/\w+\.h|std\w+\.h)>", included),
                          "%s includes %s (only <mdbp/...> and the C library"
                          " may be)" % (name, included))
        harness.check(name == "mdbp.h" or 'extern "C"' in text,
                      '%s has no extern "C" guard' % name)
        for match in re.finditer(r"MDBP_EXPORT[^;{]*?\b(mdbp_\w+)\s*\(",
                                 text):
            before = text[:match.start()].rstrip()
            harness.check(before.endswith("*/"),
                          "%s: %s has no comment" % (name, match.group(1)))
        # Every function declaration (code without comments and
        # preprocessor lines, cut at ; { }) must be exported.
        code = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        code = re.sub(r"^\s*#.*$", " ", code, flags=re.M)
        for statement in re.split(r"[;{}]", code):
            function = re.search(r"\b(mdbp_\w+)\s*\(", statement)
            if function:
                harness.check("MDBP_EXPORT" in statement,
                              "%s: %s is declared without MDBP_EXPORT"
                              % (name, function.group(1)))
                declared.add(function.group(1))
    libdir = pkg_config(env, "--variable=libdir", "mdbp")[0]
    shared = os.path.join(libdir, "libmdbp.so")
    dynamic = run(["readelf", "-d", shared])
    harness.check("Library soname: [%s]" % SONAME in dynamic,
                  "soname of %s:\n%s" % (shared, dynamic))
    exported = set()
    for line in run(["nm", "-D", "--defined-only", shared]).splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1] in "TWDRB":
            exported.add(fields[2])
    harness.check(exported == declared,
                  "exported but not declared: %s; declared but not exported:"
                  " %s" % (sorted(exported - declared),
                           sorted(declared - exported)))
    with open(API_MD) as handle:
        api = handle.read()
    undocumented = sorted(function for function in declared
                          if not re.search(r"\b%s\(" % function, api))
    harness.check(not undocumented,
                  "not documented in API.md: %s" % undocumented)
    requires = pkg_config(env, "--print-requires", "mdbp")
    harness.check(not requires, "public Requires of mdbp.pc: %s" % requires)
    print("ok: %d headers, soname %s, %d exported functions = declared"
          % (len(headers), SONAME, len(exported)))
    return libdir


def check_headers_alone(work, env):
    cflags = pkg_config(env, "--cflags", "mdbp")
    for name in sorted(HEADERS):
        for compiler, flags, suffix in (("cc", C_FLAGS, "c"),
                                        ("c++", CXX_FLAGS, "cpp")):
            source = os.path.join(work, "alone-%s.%s" % (name, suffix))
            with open(source, "w") as handle:
                handle.write("#include <mdbp/%s>\n" % name)
            run([compiler] + flags + cflags + ["-fsyntax-only", source],
                env=env)
    print("ok: each header compiles alone as C11 and C++11")


def api_example():
    """The complete example of API.md: the ```c block holding main()."""
    with open(API_MD) as handle:
        blocks = re.findall(r"```c\n(.*?)```", handle.read(), re.S)
    examples = [block for block in blocks if "int main(" in block]
    harness.check(len(examples) == 1,
                  "API.md: one ```c block with main(), found %d"
                  % len(examples))
    return examples[0]


def build(env, compiler, flags, sources, output, libs):
    run([compiler] + flags + sources + pkg_config(env, "--cflags", "mdbp",
                                                  "libzmq")
        + libs + ["-o", output], env=env)
    return output


def needed(binary):
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                      run(["readelf", "-d", binary]))


def main():
    for tool in ("cc", "c++", "pkg-config", "ninja", "readelf", "nm"):
        harness.check(shutil.which(tool), "%s not on PATH" % tool)
    with tempfile.TemporaryDirectory(prefix="mdbp-install-") as work:
        prefix, pcdir = install(work)
        env = dict(os.environ, PKG_CONFIG_PATH=pcdir)
        libdir = check_files(prefix, env)
        check_headers_alone(work, env)

        shared_libs = (pkg_config(env, "--libs", "mdbp", "libzmq")
                       + ["-Wl,-rpath," + libdir])
        # Static: libmdbp.a by name, then what it needs (--static).
        static_libs = [("-l:libmdbp.a" if flag == "-lmdbp" else flag)
                       for flag in pkg_config(env, "--static", "--libs",
                                              "mdbp")]
        static_libs += pkg_config(env, "--libs", "libzmq")

        example_source = os.path.join(work, "api_example.c")
        with open(example_source, "w") as handle:
            handle.write(api_example())
        example = build(env, "cc", C_FLAGS, [example_source],
                        os.path.join(work, "api-example"), shared_libs)
        print("API.md example:\n" + run([example]).rstrip())

        consumers = [
            ("c-shared", build(env, "cc", C_FLAGS, [CONSUMER_C],
                               os.path.join(work, "consumer-c"), shared_libs),
             CONSUMER_C_RECORDS),
            ("c-static", build(env, "cc", C_FLAGS, [CONSUMER_C],
                               os.path.join(work, "consumer-c-static"),
                               static_libs), CONSUMER_C_RECORDS),
            ("cxx-shared", build(env, "c++", CXX_FLAGS, [CONSUMER_CXX],
                                 os.path.join(work, "consumer-cxx"),
                                 shared_libs), CONSUMER_CXX_RECORDS),
        ]
        harness.check(SONAME in needed(consumers[0][1]),
                      "consumer-c does not need %s" % SONAME)
        harness.check(not any(name.startswith("libmdbp")
                              for name in needed(consumers[1][1])),
                      "consumer-c-static still needs libmdbp")

        with harness.Coordinator(COORDINATOR, MDS_HEARTBEAT_MS=100,
                                 MDS_LOG_LEVEL="warning") as coordinator:
            coordinator.start(ready=True)
            for name, binary, _ in consumers:
                result = subprocess.run(
                    [binary, coordinator.ingest_endpoint,
                     coordinator.feedback_endpoint,
                     coordinator.coordinator_id, "install-" + name],
                    capture_output=True, text=True,
                    timeout=CONSUMER_TIMEOUT_S)
                harness.check(result.returncode == 0,
                              "%s exited %d:\n%s%s" % (name,
                                                       result.returncode,
                                                       result.stdout,
                                                       result.stderr))
                print("%s:\n%s" % (name, result.stdout.rstrip()))
            expected = sum(count for _, _, count in consumers)
            stored = harness.sqlite_count(coordinator.db_path)
            harness.check(stored == expected, "%d rows stored, expected %d"
                          % (stored, expected))
            harness.check(coordinator.stop() == 0, "coordinator exit code")
        print("ok: %d consumers, %d rows stored" % (len(consumers), expected))


if __name__ == "__main__":
    main()
