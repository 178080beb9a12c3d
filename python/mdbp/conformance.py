"""Runs the conformance corpus of proto/conformance (its README.md) through
this package's decoders.

    failures = mdbp.conformance.run("proto/conformance")

Command line: python3 -m mdbp.conformance DIRECTORY [--verbose]; exit 0 when
every case's verdict matches, 1 otherwise."""
import os
import sys

from . import feedback, ingest

KINDS = ("feedback", "batch", "reply")
VERDICTS = ("valid", "invalid", "version")


def cases(directory):
    """Yields (kind, verdict, file, description, body) for every line of
    DIRECTORY/cases.tsv. Raises ValueError for a line not of the format."""
    path = os.path.join(directory, "cases.tsv")
    with open(path, encoding="utf-8") as tsv:
        for number, line in enumerate(tsv, start=1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 4 or fields[0] not in KINDS \
                    or fields[1] not in VERDICTS:
                raise ValueError("%s:%d: not kind<TAB>verdict<TAB>file<TAB>"
                                 "description" % (path, number))
            kind, verdict, name, description = fields
            with open(os.path.join(directory, name), "rb") as body:
                yield kind, verdict, name, description, body.read()


def verdict(kind, body):
    """(verdict, reason) of this package's decoder for one body."""
    decoders = {
        "feedback": (feedback.decode_body, feedback.VersionMismatch,
                     feedback.Malformed),
        "batch": (ingest.decode_batch, ingest.BatchVersionMismatch,
                  ingest.MalformedBatch),
        "reply": (ingest.decode_reply, ingest.ReplyVersionMismatch,
                  ingest.MalformedReply),
    }
    decode, version_error, error = decoders[kind]
    try:
        decode(body)
    except version_error as failure:
        return "version", str(failure)
    except error as failure:
        return "invalid", str(failure)
    return "valid", ""


def run(directory):
    """The cases whose verdict differs: a list of (file, expected, got,
    reason). Empty when the package conforms."""
    failures = []
    for kind, expected, name, _, body in cases(directory):
        got, reason = verdict(kind, body)
        if got != expected:
            failures.append((name, expected, got, reason))
    return failures


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-"):
        print("usage: python3 -m mdbp.conformance DIRECTORY [--verbose]",
              file=sys.stderr)
        return 2
    directory, verbose = argv[0], "--verbose" in argv[1:]
    total = 0
    failures = []
    for kind, expected, name, description, body in cases(directory):
        total += 1
        got, reason = verdict(kind, body)
        if got != expected:
            failures.append(name)
            print("FAIL %s: expected %s, got %s %s (%s)"
                  % (name, expected, got, reason, description))
        elif verbose:
            print("ok   %s: %s %s" % (name, got, reason))
    print("mdbp.conformance: %d cases, %d failures" % (total, len(failures)))
    return 1 if failures or not total else 0


if __name__ == "__main__":
    sys.exit(main())
