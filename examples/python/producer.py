#!/usr/bin/python3
"""A producer for mds-coordinator's ingest channel: a thin command line over
the mdbp package (python/, `pip install ./python`), which implements
proto/ingest.md (and proto/feedback.md for backpressure). Without the
package installed it uses the copy in this source tree.

Library use (the package's):

    from mdbp.ingest import Producer
    producer = Producer("tcp://127.0.0.1:5555", producer_id="feed-1",
                        window=4, feedback_endpoints=["tcp://127.0.0.1:5556"])
    summary = producer.run(records, batch_size=500)   # records: wire arrays
    producer.close()
    print(summary.as_dict(), summary.complete)

Command line: producer.py (FILE | --generate N) [--endpoint E] [--window W]
[--batch-size B] [--feedback E] [--rate R] [--deadline S] [--json]; see
--help. What the producer does (window, credits, sessions, resends,
backpressure) is described in mdbp/ingest.py; the text readers are in
mdbp/records.py."""
import argparse
import json
import math
import os
import signal
import sys

import zmq

try:
    import mdbp  # noqa: F401  (installed)
except ImportError:  # not installed: the package of this source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(
        __file__)), os.pardir, os.pardir, "python"))
from mdbp.ingest import (CREDIT_INITIAL_DEFAULT,  # noqa: F401
                         DEFAULT_BATCH_RECORDS, DEFAULT_ENDPOINT,
                         DEFAULT_REPLY_TIMEOUT_S, DEFAULT_WINDOW_BATCHES,
                         PRODUCER_ID_MAX_BYTES, RECORDS_PER_BATCH_MAX,
                         VERSION, Batch, MalformedBatch, MalformedReply,
                         Producer, Summary, _log_stderr, decode_batch,
                         decode_reply, default_producer_id, encode_batch,
                         new_session)
from mdbp.records import (FAILURES_SHOWN_MAX, InputError,  # noqa: F401
                          check_file, detect_format, generate, parse_csv,
                          parse_ndjson, read_records, record_as_json)


# --------------------------------------------------------------------------
# Command line

def format_summary(summary):
    nacks = ", ".join("%s=%d" % item for item in sorted(summary.nacks.items()))
    lines = [
        "records %d in %d batches: sent %d, acked %d (written %d, duplicates "
        "%d, dead_lettered %d), rejected %d, unacked %d"
        % (summary.records, summary.batches, summary.sent, summary.acked,
           summary.written, summary.duplicates, summary.dead_lettered,
           summary.rejected, summary.unacked),
        "nacks: %s; resends %d, timeouts %d, disconnects %d, malformed "
        "replies %d, unmatched replies %d, HARD pauses %d (%.1f s)"
        % (nacks or "none", summary.resends, summary.timeouts,
           summary.disconnects, summary.malformed_replies,
           summary.unmatched_replies, summary.hard_pauses, summary.paused_s),
        "credit: waits %d, batches cut %d; other sessions' replies %d"
        % (summary.credit_waits, summary.credit_splits,
           summary.foreign_replies),
    ]
    for seq, origin, detail in summary.failures[:FAILURES_SHOWN_MAX]:
        lines.append("malformed batch %d (first record %s): %s"
                     % (seq, origin, detail))
    if len(summary.failures) > FAILURES_SHOWN_MAX:
        lines.append("... and %d more malformed batches"
                     % (len(summary.failures) - FAILURES_SHOWN_MAX))
    if summary.stopped:
        lines.append("ended early: %s" % summary.stopped)
    lines.append("result: %s" % ("every record acknowledged"
                                 if summary.complete else "INCOMPLETE"))
    return "\n".join(lines)


def _positive(kind, low):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError("not a number: %r" % text)
        if not (isinstance(value, int) or math.isfinite(value)) or value < low:
            raise argparse.ArgumentTypeError("must be >= %s" % low)
        return value
    return parse


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Sends market-data records to mds-coordinator "
                    "(proto/ingest.md) and prints what became of them. Exit "
                    "code 0 when every record was acknowledged, 1 when not, "
                    "2 on bad usage or a bad input file (nothing is sent).")
    parser.add_argument("file", nargs="?",
                        help="records as CSV or NDJSON (ingest.md 7)")
    parser.add_argument("--generate", type=_positive(int, 1), metavar="N",
                        help="send N generated records instead of a file")
    parser.add_argument("--format", choices=("auto", "csv", "ndjson"),
                        default="auto", help="input format (default: from "
                        "the extension, else the first line)")
    parser.add_argument("--endpoint", default=DEFAULT_ENDPOINT,
                        help="the coordinator's ingest endpoint (default %s)"
                        % DEFAULT_ENDPOINT)
    parser.add_argument("--producer-id", default=None,
                        help="1..64 bytes (default producer-py-HOSTNAME)")
    parser.add_argument("--batch-size", type=_positive(int, 1),
                        default=DEFAULT_BATCH_RECORDS,
                        help="records per batch, 1..10000 (default %d)"
                        % DEFAULT_BATCH_RECORDS)
    parser.add_argument("--window", type=_positive(int, 1),
                        default=DEFAULT_WINDOW_BATCHES,
                        help="batches in flight at most (default %d)"
                        % DEFAULT_WINDOW_BATCHES)
    parser.add_argument("--timeout", type=_positive(float, 0.001),
                        default=DEFAULT_REPLY_TIMEOUT_S,
                        help="seconds to wait for a reply before resending "
                        "(default %g; doubles per timeout, 8x at most)"
                        % DEFAULT_REPLY_TIMEOUT_S)
    parser.add_argument("--rate", type=_positive(float, 0.001), default=None,
                        help="records per second at most (default: no limit)")
    parser.add_argument("--feedback", action="append", metavar="ENDPOINT",
                        help="the coordinator's feedback endpoint: pause "
                        "while it is HARD, follow scale_hint while SOFT "
                        "(repeatable)")
    parser.add_argument("--coordinator", default=None,
                        help="with --feedback: only this coordinator id")
    parser.add_argument("--deadline", type=_positive(float, 0), default=0,
                        help="give up after this many seconds (0: never)")
    parser.add_argument("--rejects", metavar="FILE",
                        help="append the records of batches nacked "
                        "malformed here, as NDJSON dead-letter lines")
    parser.add_argument("--json", action="store_true",
                        help="print the summary as one JSON object on stdout")
    parser.add_argument("--quiet", action="store_true",
                        help="no log lines on stderr, only the summary")
    args = parser.parse_args(argv)

    if (args.file is None) == (args.generate is None):
        parser.error("give either FILE or --generate N")
    if args.batch_size > RECORDS_PER_BATCH_MAX:
        parser.error("--batch-size %d: at most %d"
                     % (args.batch_size, RECORDS_PER_BATCH_MAX))
    producer_id = args.producer_id or default_producer_id()
    if not 1 <= len(producer_id.encode()) <= PRODUCER_ID_MAX_BYTES:
        parser.error("--producer-id %r: 1..64 bytes" % producer_id)

    if args.file is not None:
        try:
            fmt = args.format if args.format != "auto" \
                else detect_format(args.file)
            count, errors = check_file(args.file, fmt)
        except OSError as error:
            print("producer: %s" % error, file=sys.stderr)
            return 2
        if errors:
            for error in errors:
                print("producer: %s" % error, file=sys.stderr)
            print("producer: %s is not a valid %s file; nothing sent"
                  % (args.file, fmt), file=sys.stderr)
            return 2
        records = read_records(args.file, fmt)
    else:
        records = generate(args.generate)

    rejects = None
    if args.rejects:
        try:
            rejects = open(args.rejects, "a", encoding="utf-8")
        except OSError as error:
            parser.error("--rejects %s: %s" % (args.rejects, error))
    log = (lambda text: None) if args.quiet else _log_stderr
    try:
        producer = Producer(args.endpoint, producer_id=producer_id,
                            window=args.window, reply_timeout_s=args.timeout,
                            feedback_endpoints=[part for value in
                                                args.feedback or []
                                                for part in value.split(",")
                                                if part],
                            coordinator_id=args.coordinator, rate=args.rate,
                            rejects=rejects, log=log)
    except (ValueError, zmq.ZMQError) as error:
        parser.error(str(error))
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: producer.stop())
    try:
        summary = producer.run(records, batch_size=args.batch_size,
                               deadline_s=args.deadline or None)
    except InputError as error:  # the file changed since it was checked
        print("producer: %s" % error, file=sys.stderr)
        return 2
    finally:
        producer.close()
        if rejects is not None:
            rejects.close()
    if args.json:
        print(json.dumps(summary.as_dict()), flush=True)
        print(format_summary(summary), file=sys.stderr, flush=True)
    else:
        print(format_summary(summary), flush=True)
    return 0 if summary.complete else 1


if __name__ == "__main__":
    sys.exit(main())
