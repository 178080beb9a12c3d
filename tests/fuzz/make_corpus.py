#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/NAME/ (committed): the hex
examples of proto/ingest.md and proto/feedback.md, valid and broken
variants of them, and the reproducers of issue 12. Run it again after a
spec example changes: /usr/bin/python3 tests/fuzz/make_corpus.py"""
import os
import re
import sys

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def golden(document, name):
    """The hex block after <!-- golden: NAME --> (as test_proto_docs.py)."""
    at = document.index("<!-- golden: %s -->" % name)
    start = document.index("\n", document.index("```", at)) + 1
    return bytes.fromhex(document[start:document.index("```", start)])


def pack(value):
    return msgpack.packb(value, use_bin_type=True)


def batch(records, **changes):
    body = {"v": 1, "type": "batch", "producer_id": "feed-ibkr-1",
            "batch_seq": 7, "records": records}
    body.update(changes)
    return pack(body)


TRADE = ["trade", "ibkr", "AAPL", 1700000000000000000, 189.5, 100.0]
QUOTE = ["quote", "ibkr", "AAPL", 1700000000000000001, 189.49, 300.0,
         189.51, 200.0]
BAR = ["bar", "ibkr", "AAPL", 1699999940000000000, 189.0, 190.25, 188.75,
       189.5, 125000.0]


def corpora():
    ingest = open(os.path.join(ROOT, "proto", "ingest.md")).read()
    feedback = open(os.path.join(ROOT, "proto", "feedback.md")).read()
    event = msgpack.unpackb(golden(feedback, "feedback"), raw=False)
    return {
        "batch": {
            "spec-batch": golden(ingest, "batch"),
            "one-of-each": batch([TRADE, QUOTE, BAR]),
            "v1.1-session": batch([TRADE, QUOTE], session=2 ** 64 - 1),
            "v1.1-session-zero": batch([TRADE], session=0),
            "truncated": golden(ingest, "batch")[:-5],
            "unknown-key": batch([TRADE], extra={"a": [1, 2]}),
            "unicode-symbol-u202e": batch([TRADE[:2] + ["A\u202eB"]
                                           + TRADE[3:]]),
            "unicode-provider-u0085": batch([TRADE[:1] + ["p\u0085"]
                                             + TRADE[2:]]),
            "unicode-symbol-u2028": batch([TRADE[:2] + ["A\u2028"]
                                           + TRADE[3:]]),
            "log-injection-key": batch([TRADE], **{
                "k\" level=error event=forged": 1}),
            "producer-id-65": batch([TRADE], producer_id="p" * 65),
            "negative-ts": batch([TRADE[:3] + [-5] + TRADE[4:]]),
        },
        "reply": {
            "spec-ack": golden(ingest, "ack"),
            "spec-nack": golden(ingest, "nack"),
            "spec-ack-v1.1": golden(ingest, "ack-v1.1"),
            "spec-nack-v1.1": golden(ingest, "nack-v1.1"),
            "nack-unknown-reason": pack({
                "v": 1, "type": "nack", "batch_seq": 8,
                "reason": "overloaded", "retry_after_ms": 200,
                "detail": "x"}),
            "nack-detail-injection": pack({
                "v": 1, "type": "nack", "batch_seq": 9,
                "reason": "malformed",
                "detail": "key \" level=error event=forged\x1b[31m"}),
        },
        "feedback": {
            "spec-feedback": golden(feedback, "feedback"),
            "spec-feedback-v1.1": golden(feedback, "feedback-v1.1"),
            "spec-going-away": golden(feedback, "going-away"),
            "heartbeat": pack(dict(event, type="heartbeat",
                                   prev_level="soft")),
            "no-optional-keys": pack({key: value for key, value
                                      in event.items()
                                      if key not in ("reason",
                                                     "drain_rate")}),
            "reason-controls": pack(dict(event,
                                         reason="a\u202e\u2028\x1b[2J")),
        },
        "text_record": {
            "csv-trade": b"trade,ibkr,AAPL,1700000000000000000,189.5,100",
            "csv-quote": b"quote,ibkr,AAPL,1700000000000000001,189.4,200,"
                         b"189.6,300",
            "csv-bar": b"bar,ibkr,AAPL,1700000000000000000,189,190,188.5,"
                       b"189.5,12000",
            "csv-header": b"kind,provider,symbol,ts_ns,f1,f2,f3,f4,f5",
            "csv-u202e": "trade,p,A\u202eB,1,1,1".encode(),
            "json-trade": b'{"kind":"trade","provider":"ibkr","symbol":'
                          b'"AAPL","ts_ns":1700000000000000000,'
                          b'"price":189.5,"size":100}',
            "json-escapes": b'{"kind":"quote","provider":"p\\u00e9",'
                            b'"symbol":"s\\"q","ts_ns":1,"bid":1,'
                            b'"bid_size":2,"ask":3,"ask_size":4,'
                            b'"reason":"x"}',
            "json-u2029-escape": b'{"kind":"trade","provider":"p",'
                                 b'"symbol":"s\\u2029","ts_ns":1,'
                                 b'"price":1,"size":1}',
        },
        "replay": {
            # Issue 12 item 4: ts 1 and 4e18 with loop on overflowed.
            "loop-overflow": b"trade,x,AAPL,1,1,1\n"
                             b"trade,x,AAPL,4000000000000000000,1,1\n",
            "loop-near-max": b"trade,x,AAPL,9223372036854775806,1,1\n",
            "mixed": b"kind,provider,symbol,ts_ns,f1,f2,f3,f4,f5\n"
                     b"# a comment\n\n"
                     b"trade,x,AAPL,1000,189.5,100\r\n"
                     b'{"kind":"bar","provider":"x","symbol":"G",'
                     b'"ts_ns":2000,"open":1,"high":2,"low":0.5,'
                     b'"close":1.5,"volume":1000}\n'
                     b"trade,x,AAPL,not-a-time,1,1\n",
            # Issue 12 item 6: a NUL hid an overlong line's tail.
            "nul-smuggle": b"#\0" + b"p" * 4095
                           + b"trade,x,SMUGGLED,2000,1,1\n"
                           b"trade,x,AAPL,2500,1,1\0junk\n",
        },
        "dlq_lines": {
            "dead-letter": b'{"kind":"trade","provider":"ibkr","symbol":'
                           b'"BADSYM","ts_ns":7,"price":1,"size":1,'
                           b'"reason":"rejected by the test trigger"}\n'
                           b"\n# comment\n{not json\n",
            "nul-smuggle": b"#\0" + b"p" * 254
                           + b'{"kind":"trade","provider":"p","symbol":'
                             b'"SMUGGLED","ts_ns":1,"price":1,"size":1}\n',
            "crlf-at-limit": b"#" + b"c" * 255 + b"\r\n"
                             + b"#" + b"c" * 256 + b"\n",
        },
        "config": {
            "good": b"--count=7\0--ratio\x000.25\0--flag\0--policy=step"
                    b"\0--producer-id=feed-1\0dlq\0replay\0file",
            "tab-integer": b"--count=\t5",
            "newline-double": b"--ratio=\n0.5",
            "producer-id-65": b"--producer-id=" + b"p" * 65,
            "help": b"--help",
            "unknown": b"--no-such-flag=1\0--\0--count=3",
        },
        "webhook_url": {
            "good": b"http://127.0.0.1:8080/hook?x=1",
            "no-port": b"http://alerts.local/feedback",
            "https": b"https://example.com/",
            "userinfo": b"http://user:pass@host/",
            "ipv6": b"http://[::1]:80/",
            "bad-port": b"http://host:99999/",
        },
        "query": {
            "cooldown": b"provider=ibkr&scope=provider&seconds=30",
            "scale": b"provider=ib%6Br&scale=0.5",
            "bad-escape": b"provider=%4&scale=%zz",
            "nul-escape": b"provider=a%00b",
            "plus": b"a=x+y&a=2",
        },
        "log": {
            "forge": b'k" level=error event=forged x="',
            "escape": b"\x1b[31mred\x1b[0m\\\"\n\r\t\x7f",
            "percent": b"%s%n%d%%",
            "utf8": "\u202e\u2028 b\u00f6rse".encode(),
        },
    }


def main():
    for name, seeds in corpora().items():
        directory = os.path.join(HERE, "corpus", name)
        os.makedirs(directory, exist_ok=True)
        for seed, data in seeds.items():
            assert re.fullmatch(r"[a-z0-9.-]+", seed), seed
            with open(os.path.join(directory, seed), "wb") as handle:
                handle.write(data)
    print("make_corpus: %d corpora" % len(corpora()), file=sys.stderr)


if __name__ == "__main__":
    main()
