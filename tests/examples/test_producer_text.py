"""examples/python/producer.py without a coordinator: the examples of
proto/ingest.md read back as documented (the NDJSON and CSV lines of
section 7 are the records of section 6, encoded they are the golden batch
bytes, the golden ack and nack decode), the text readers are strict, replies
are strictly decoded, and the command line refuses bad input with exit 2
before sending anything.

Usage: test_producer_text.py PRODUCER_PY INGEST_MD"""
import importlib.util
import os
import subprocess
import sys
import tempfile

import msgpack

PYTHON = "/usr/bin/python3"

SECTION_6_RECORDS = [
    ["trade", "ibkr", "AAPL", 1700000000000000000, 189.5, 100.0],
    ["quote", "ibkr", "AAPL", 1700000000000000001, 189.49, 300.0, 189.51,
     200.0],
    ["bar", "ibkr", "AAPL", 1699999940000000000, 189.0, 190.25, 188.75,
     189.5, 125000.0],
]


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def block_after(document, marker):
    at = document.index(marker)
    start = document.index("```", at)
    start = document.index("\n", start) + 1
    return document[start:document.index("```", start)]


def load(path):
    spec = importlib.util.spec_from_file_location("producer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def refused(parse, line, expected):
    """parse(line) raises InputError whose text contains `expected`."""
    try:
        parse(line)
    except producer.InputError as error:
        check(expected in str(error), "%r: error %r lacks %r"
              % (line, str(error), expected))
        return
    raise AssertionError("%r was accepted" % line)


def test_document_examples(ingest):
    ndjson = [producer.parse_ndjson(line) for line in
              block_after(ingest, "### 7.1 NDJSON").splitlines() if line]
    check(ndjson == SECTION_6_RECORDS, "7.1 example: %r" % ndjson)
    csv = [producer.parse_csv(line) for line in
           block_after(ingest, "### 7.2 CSV").splitlines() if line]
    check(csv[0] is None and csv[1:] == SECTION_6_RECORDS,
          "7.2 example: %r" % csv)
    golden = bytes.fromhex(block_after(ingest, "<!-- golden: batch -->"))
    check(producer.encode_batch("feed-ibkr-1", 7, ndjson) == golden,
          "the 7.1 records do not encode to the golden batch")
    ack = producer.decode_reply(
        bytes.fromhex(block_after(ingest, "<!-- golden: ack -->")))
    check(ack == {"type": "ack", "batch_seq": 7, "written": 3,
                  "duplicates": 0, "dead_lettered": 0}, "ack %r" % ack)
    nack = producer.decode_reply(
        bytes.fromhex(block_after(ingest, "<!-- golden: nack -->")))
    check(nack == {"type": "nack", "batch_seq": 8, "reason": "full",
                   "retry_after_ms": 200, "detail": "queue full"},
          "nack %r" % nack)


def test_ndjson():
    parse = producer.parse_ndjson
    good = ('{"kind":"trade","provider":"p","symbol":"S","ts_ns":5,'
            '"price":1e-3,"size":0}')
    check(parse(good) == ["trade", "p", "S", 5, 0.001, 0.0], "good line")
    check(parse(' { "size" : 2 , "price":1, "ts_ns":5, "symbol":"\\u00e9",'
                '"provider":"p\\ud83d\\ude00","kind":"trade", "note":"x",'
                '"flag":true,"n":null,"m":1.5}')
          == ["trade", "p\U0001F600", "S".replace("S", "\u00e9"), 5, 1.0, 2.0],
          "any order, escapes, unknown scalar keys")
    refused(parse, '{"kind":"trade","provider":"p","symbol":"S","ts_ns":5,'
            '"size":1}', "json: missing key 'price'")
    refused(parse, '{"kind":"trade","provider":"p","symbol":"S",'
            '"ts_ns":5.0,"price":1,"size":1}', "key 'ts_ns': expected an "
            "integer")
    refused(parse, '{"kind":"trade","provider":"p","symbol":"S",'
            '"ts_ns":1e18,"price":1,"size":1}', "expected an integer")
    refused(parse, '{"kind":"trade","provider":"p","symbol":"S",'
            '"ts_ns":5,"price":NaN,"size":1}', "NaN")
    refused(parse, '{"kind":"trade","provider":"p","symbol":"S",'
            '"ts_ns":5,"price":"1","size":1}', "key 'price': expected a "
            "number")
    refused(parse, '{"kind":"trade","provider":"p","symbol":"S",'
            '"ts_ns":5,"price":true,"size":1}', "expected a number")
    refused(parse, '{"kind":"trade","kind":"trade","provider":"p",'
            '"symbol":"S","ts_ns":5,"price":1,"size":1}', "given twice")
    refused(parse, '{"kind":"trade","provider":"p","symbol":"S",'
            '"ts_ns":5,"price":1,"size":1,"extra":[1]}', "nested")
    refused(parse, '{"kind":"trade","provider":"p\\u0000","symbol":"S",'
            '"ts_ns":5,"price":1,"size":1}', "\\u0000")
    refused(parse, '{"kind":"trade","provider":"p\\ud800","symbol":"S",'
            '"ts_ns":5,"price":1,"size":1}', "UTF-8")
    refused(parse, '{"kind":"tick","provider":"p","symbol":"S","ts_ns":5}',
            "key 'kind'")
    refused(parse, '{"kind":"trade" "provider":"p"}', "json: expecting ','")
    refused(parse, '["trade"]', "expected an object")
    refused(parse, '{"kind":"trade","provider":"p","symbol":"S",'
            '"ts_ns":99999999999999999999,"price":1,"size":1}', "64-bit")


def test_csv():
    parse = producer.parse_csv
    check(parse("kind,provider,symbol,ts_ns,price,size") is None, "header")
    check(parse("trade,p,S,5,1.5,0\r") == ["trade", "p", "S", 5, 1.5, 0.0],
          "trailing \\r")
    check(parse("bar,p,S,-5,1,2,0.5,1e2,3E+1") ==
          ["bar", "p", "S", -5, 1.0, 2.0, 0.5, 100.0, 30.0], "bar")
    refused(parse, "trade,p,S,5,1", "csv: a trade has 6 fields, got 5")
    refused(parse, "quote,p,S,5,1,2,3,4,5", "a quote has 8 fields, got 9")
    refused(parse, "trade,p,S,5,x,1", "csv: field 5 (price): expected a "
            "number")
    for number in (" 1", "1 ", "+1", "nan", "inf", "1_0", "0x1", ".5", "1.",
                   "01", ""):
        refused(parse, "trade,p,S,5,1,%s" % number, "field 6 (size)")
    for ts_ns in ("5.0", "1e3", "", " 5", "05"):
        refused(parse, "trade,p,S,%s,1,1" % ts_ns, "field 4 (ts_ns)")
    refused(parse, "tick,p,S,5,1,1", "field 1 (kind)")


def test_dead_letter_lines():
    for record in SECTION_6_RECORDS:
        line = producer.record_as_json(record, "why")
        check(producer.parse_ndjson(line) == record, "round trip %s" % line)
    line = producer.record_as_json(["trade", "p", "S", 5, float("nan"), 1.0],
                                   "bad")
    check('"price":null' in line, "NaN written as null: %s" % line)
    refused(producer.parse_ndjson, line, "key 'price': expected a number")


def test_files(workdir):
    """Blank lines (also white space only), comments (also indented), a
    header, CRLF; the format from the extension or the first line."""
    lines = ["# a comment", "", "   ", "  # indented comment",
             "kind,provider,symbol,ts_ns,f1,f2,f3,f4,f5",
             "trade,ibkr,AAPL,1700000000000000000,189.5,100"]
    path = os.path.join(workdir, "records.txt")
    with open(path, "w", newline="") as handle:
        handle.write("\r\n".join(lines) + "\r\n")
    check(producer.detect_format(path) == "csv", "sniffed csv")
    check(producer.check_file(path, "csv") == (1, []), "check_file")
    check(list(producer.read_records(path, "csv")) ==
          [(path + ":6", SECTION_6_RECORDS[0])], "read_records")
    with open(path, "a") as handle:
        handle.write("trade,ibkr,AAPL,1,2\n")
    count, errors = producer.check_file(path, "csv")
    check(count == 1 and errors == [path + ":7: csv: a trade has 6 fields, "
                                    "got 5"], "errors %r" % errors)
    ndjson = os.path.join(workdir, "records.log")
    with open(ndjson, "w") as handle:
        handle.write("\n# x\n" + producer.record_as_json(
            SECTION_6_RECORDS[2]) + "\n")
    check(producer.detect_format(ndjson) == "ndjson", "sniffed ndjson")
    check([r for _, r in producer.read_records(ndjson, "ndjson")] ==
          [SECTION_6_RECORDS[2]], "ndjson file")


def test_replies():
    decode = producer.decode_reply

    def bad(message, expected, raw=None):
        try:
            decode(raw if raw is not None else msgpack.packb(message))
        except producer.MalformedReply as error:
            check(expected in str(error), "%r: %s" % (message, error))
            return
        raise AssertionError("accepted %r" % (message,))

    ack = {"v": 1, "type": "ack", "batch_seq": 3, "written": 1,
           "duplicates": 2, "dead_lettered": 0}
    check(decode(msgpack.packb(dict(ack, later="x"))) ==
          {k: v for k, v in ack.items() if k != "v"}, "unknown key ignored")
    nack = {"v": 1, "type": "nack", "batch_seq": 0, "reason": "malformed",
            "retry_after_ms": 0}
    check(decode(msgpack.packb(nack))["detail"] == "", "detail optional")
    bad(dict(ack, v=2), "version")
    bad({k: v for k, v in ack.items() if k != "written"}, "'written'")
    bad(dict(ack, duplicates=-1), "'duplicates'")
    bad(dict(ack, type="hello"), "'type'")
    bad(dict(nack, retry_after_ms=2 ** 32), "retry_after_ms")
    bad(dict(nack, detail=b"bytes"), "'detail'")
    bad(None, "not one msgpack", raw=msgpack.packb(ack) + b"\x00")
    bad(None, "not a map", raw=msgpack.packb([1]))
    bad(None, "twice", raw=b"\x82\xa1v\x01\xa1v\x01")


def test_command_line(producer_py, workdir):
    bad = os.path.join(workdir, "bad.csv")
    with open(bad, "w") as handle:
        handle.write("trade,p,S,5,1,1\ntrade,p,S,6,1\n")
    # Port 1 on 127.0.0.1: nothing listens; nothing may be sent anyway.
    for args, expected in (([bad], "bad.csv:2: csv: a trade has 6 fields"),
                           ([], "either FILE or --generate"),
                           ([bad, "--generate", "3"], "either FILE"),
                           (["--generate", "3", "--batch-size", "10001"],
                            "--batch-size"),
                           (["--generate", "0"], "--generate"),
                           ([os.path.join(workdir, "missing.csv")],
                            "No such file")):
        result = subprocess.run([PYTHON, producer_py, "--endpoint",
                                 "tcp://127.0.0.1:1", "--deadline", "5"]
                                + args, capture_output=True, text=True,
                                timeout=30)
        check(result.returncode == 2 and expected in result.stderr,
              "%s: exit %d, stderr %s" % (args, result.returncode,
                                          result.stderr))
    # Nothing to talk to: the deadline ends the run, exit 1, not complete.
    result = subprocess.run([PYTHON, producer_py, "--endpoint",
                             "tcp://127.0.0.1:1", "--generate", "10",
                             "--deadline", "0.5", "--json", "--quiet"],
                            capture_output=True, text=True, timeout=30)
    check(result.returncode == 1 and '"stopped": "deadline"' in result.stdout
          and '"unacked": 10' in result.stdout, "deadline: %s" % result)


def main(producer_py, ingest_md):
    global producer
    producer = load(producer_py)
    with open(ingest_md, encoding="utf-8") as handle:
        ingest = handle.read()
    test_document_examples(ingest)
    test_ndjson()
    test_csv()
    test_dead_letter_lines()
    test_replies()
    with tempfile.TemporaryDirectory(prefix="producer-text-") as workdir:
        test_files(workdir)
        test_command_line(producer_py, workdir)
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
