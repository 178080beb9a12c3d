"""Reads an mdp-pipeline spool directory as docs/spool.md specifies it, with
nothing but the Python standard library (an independent reader of the
format: it shares no code with pl_spool.c)."""
import json
import os
import struct
import zlib

MAGIC = b"MDPSPOOL"
HEADER = 16          # magic, u32 version, u32 zero
RECORD_HEADER = 16   # u32 length, u32 crc32, i64 appended_ns
PAYLOAD_MAX = 1024


def segments(directory):
    names = sorted(name for name in os.listdir(directory)
                   if name.startswith("spool-") and name.endswith(".seg"))
    return [os.path.join(directory, name) for name in names]


def read_segment(path):
    """(records, torn): the good records of one segment, as dicts with
    'appended_ns', and whether a torn or corrupt tail follows them."""
    with open(path, "rb") as handle:
        data = handle.read()
    if len(data) < HEADER:
        return [], True
    if data[:8] != MAGIC or struct.unpack("<I", data[8:12])[0] != 1:
        raise ValueError("%s is not a spool segment" % path)
    records, offset = [], HEADER
    while offset < len(data):
        if offset + RECORD_HEADER > len(data):
            return records, True
        length, crc, appended = struct.unpack(
            "<IIq", data[offset:offset + RECORD_HEADER])
        payload = data[offset + RECORD_HEADER:offset + RECORD_HEADER + length]
        if (length == 0 or length > PAYLOAD_MAX or len(payload) < length or
                zlib.crc32(data[offset + 8:offset + 16] + payload) != crc):
            return records, True
        record = json.loads(payload.decode())
        record["appended_ns"] = appended
        records.append(record)
        offset += RECORD_HEADER + length
    return records, False


def read_spool(directory):
    """Every good record of the directory's segments, oldest first."""
    out = []
    for path in segments(directory):
        out += read_segment(path)[0]
    return out


def key(record):
    return (record["kind"], record["provider"], record["symbol"],
            int(record["ts_ns"]))
