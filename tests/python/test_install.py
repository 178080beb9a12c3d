#!/usr/bin/python3
"""`pip install ./python` works offline: a fresh venv (seeing Debian's
pyzmq and msgpack), pip with --no-index (no package index at all) and no
network; the installed package (not the source tree) then passes the
conformance corpus and, with MDS_COORDINATOR given, the live coordinator
test.

Usage: test_install.py SOURCE_ROOT [MDS_COORDINATOR]"""
import os
import shutil
import subprocess
import sys
import tempfile

RUN_TIMEOUT_S = 120


def run(argv, **options):
    result = subprocess.run(argv, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            timeout=RUN_TIMEOUT_S, **options)
    print("$ %s\n%s" % (" ".join(argv), result.stdout.rstrip()))
    if result.returncode != 0:
        raise AssertionError("%s exited with %d" % (argv[0], result.returncode))
    return result.stdout


def main(root, binary=None):
    binary = binary and os.path.abspath(binary)
    root = os.path.abspath(root)
    workdir = tempfile.mkdtemp(prefix="mdbp-install-")
    try:
        # A copy of the package's tree: the install must not write into
        # the source (build artefacts, __pycache__).
        source = os.path.join(workdir, "src")
        shutil.copytree(os.path.join(root, "python"), source,
                        ignore=shutil.ignore_patterns("__pycache__"))
        venv = os.path.join(workdir, "venv")
        run([sys.executable, "-m", "venv", "--system-site-packages", venv])
        python = os.path.join(venv, "bin", "python")
        environment = dict(os.environ)
        environment.pop("PYTHONPATH", None)  # the installed copy only
        # No index and an unreachable proxy: any download attempt fails.
        offline = dict(environment, PIP_NO_INDEX="1",
                       PIP_DISABLE_PIP_VERSION_CHECK="1",
                       https_proxy="http://127.0.0.1:9",
                       http_proxy="http://127.0.0.1:9")
        run([python, "-m", "pip", "install", "--no-index", source],
            env=offline, cwd=workdir)
        site = run([python, "-c", "import mdbp, os; "
                    "print(os.path.dirname(mdbp.__file__))"],
                   env=environment, cwd=workdir).strip()
        if not site.startswith(venv):
            raise AssertionError("mdbp imported from %s, not the venv" % site)
        corpus = os.path.join(root, "proto", "conformance")
        output = run([os.path.join(venv, "bin", "mdbp-conformance"), corpus],
                     env=environment, cwd=workdir)
        if " 0 failures" not in output:
            raise AssertionError("the installed package fails the corpus")
        if binary:
            run([python, os.path.join(root, "tests", "python",
                                      "test_live_coordinator.py"),
                 binary, corpus, venv], env=environment, cwd=workdir)
        print("test_install: pip install ./python offline, corpus passed%s"
              % (", live coordinator passed" if binary else ""))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
