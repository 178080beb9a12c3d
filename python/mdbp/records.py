"""Records (ingest.md section 3) and records as text (section 7): the wire
arrays, their validation as the coordinator applies it, and the strict
NDJSON and CSV readers."""
import json
import math
import re
import time

INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
NAME_MAX_BYTES = 32              # provider, symbol
FAILURES_SHOWN_MAX = 20          # check_file: errors listed at most

# The record arrays of section 3: kind -> the names of its numbers.
NUMBER_FIELDS = {
    "trade": ("price", "size"),
    "quote": ("bid", "bid_size", "ask", "ask_size"),
    "bar": ("open", "high", "low", "close", "volume"),
}
KINDS = tuple(NUMBER_FIELDS)
HEAD_FIELDS = ("kind", "provider", "symbol", "ts_ns")
JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
JSON_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")


# --------------------------------------------------------------------------
# Records as text (ingest.md section 7)

class InputError(Exception):
    """A line that is not a record in the format; str() is the 7.3 text."""


def _unique_keys(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise InputError("json: key %r given twice" % key)
        result[key] = value
    return result


def _no_constant(name):
    raise InputError("json: %s is not a JSON number" % name)


def _checked_string(prefix, name, value):
    if "\x00" in value:
        raise InputError("%s: field '%s': \\u0000 is refused" % (prefix, name))
    try:
        value.encode("utf-8")  # a lone surrogate (\ud800) is not UTF-8
    except UnicodeEncodeError:
        raise InputError("%s: field '%s': not valid UTF-8 (lone surrogate?)"
                         % (prefix, name))
    return value


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_ndjson(text):
    """One NDJSON line (7.1) -> a record array. Raises InputError. Value
    rules (> 0, lengths...) are left to the coordinator, which names the
    field in its nack."""
    try:
        obj = json.loads(text, object_pairs_hook=_unique_keys,
                         parse_constant=_no_constant)
    except InputError:
        raise
    except json.JSONDecodeError as error:
        raise InputError("json: %s at column %d"
                         % (error.msg[:1].lower() + error.msg[1:], error.colno))
    except RecursionError:
        raise InputError("json: nested too deep")
    if not isinstance(obj, dict):
        raise InputError("json: expected an object")
    for key in ("kind",) + HEAD_FIELDS[1:]:
        if key not in obj:
            raise InputError("json: missing key '%s'" % key)
    kind = obj["kind"]
    if not isinstance(kind, str) or kind not in NUMBER_FIELDS:
        raise InputError("json: key 'kind': expected one of %s"
                         % ", ".join(KINDS))
    fields = NUMBER_FIELDS[kind]
    for key in fields:
        if key not in obj:
            raise InputError("json: missing key '%s'" % key)
    for key, value in obj.items():
        if isinstance(value, (dict, list)):
            raise InputError("json: key '%s': nested values are refused" % key)
    record = [kind]
    for key in ("provider", "symbol"):
        if not isinstance(obj[key], str):
            raise InputError("json: key '%s': expected a string" % key)
        record.append(_checked_string("json", key, obj[key]))
    ts_ns = obj["ts_ns"]
    if isinstance(ts_ns, bool) or not isinstance(ts_ns, int):
        raise InputError("json: key 'ts_ns': expected an integer")
    if not INT64_MIN <= ts_ns <= INT64_MAX:
        raise InputError("json: key 'ts_ns': outside the 64-bit range")
    record.append(ts_ns)
    for key in fields:
        if not _is_number(obj[key]):
            raise InputError("json: key '%s': expected a number" % key)
        record.append(float(obj[key]))  # the store keeps doubles anyway
    for key, value in obj.items():  # unknown keys: strings must be sane too
        if isinstance(value, str) and key not in ("kind", "provider", "symbol"):
            _checked_string("json", key, value)
    return record


def parse_csv(text):
    """One CSV line (7.2) -> a record array, or None for a header line.
    Raises InputError."""
    if text.endswith("\r"):
        text = text[:-1]
    if text.startswith("kind,"):
        return None
    parts = text.split(",")
    kind = parts[0]
    if kind not in NUMBER_FIELDS:
        raise InputError("csv: field 1 (kind): expected one of %s, got %r"
                         % (", ".join(KINDS), kind[:40]))
    fields = NUMBER_FIELDS[kind]
    if len(parts) != len(HEAD_FIELDS) + len(fields):
        raise InputError("csv: a %s has %d fields, got %d"
                         % (kind, len(HEAD_FIELDS) + len(fields), len(parts)))
    record = [kind, _checked_string("csv", "provider", parts[1]),
              _checked_string("csv", "symbol", parts[2])]
    if not JSON_INTEGER.fullmatch(parts[3]):
        raise InputError("csv: field 4 (ts_ns): expected an integer")
    ts_ns = int(parts[3])
    if not INT64_MIN <= ts_ns <= INT64_MAX:
        raise InputError("csv: field 4 (ts_ns): outside the 64-bit range")
    record.append(ts_ns)
    for position, name in enumerate(fields, start=len(HEAD_FIELDS) + 1):
        text_value = parts[position - 1]
        if not JSON_NUMBER.fullmatch(text_value):
            raise InputError("csv: field %d (%s): expected a number"
                             % (position, name))
        record.append(float(text_value))
    return record


def detect_format(path):
    """'csv' or 'ndjson' from the extension, else from the first line that
    is neither blank nor a comment ('{' starts NDJSON)."""
    lower = path.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".ndjson", ".jsonl", ".json")):
        return "ndjson"
    with open(path, "rb") as handle:
        for raw in handle:
            line = raw.strip()
            if line and not line.startswith(b"#"):
                return "ndjson" if line.startswith(b"{") else "csv"
    return "csv"


def read_records(path, fmt):
    """Yields (origin "PATH:LINE", record) for every record of the file.
    Blank lines and comments ('#' after optional blanks) are skipped. Raises InputError
    naming the line for the first bad one."""
    parse = parse_csv if fmt == "csv" else parse_ndjson
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            origin = "%s:%d" % (path, number)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError("%s: %s: not valid UTF-8" % (origin, fmt))
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                record = parse(line)
            except InputError as error:
                raise InputError("%s: %s" % (origin, error))
            if record is not None:
                yield origin, record


def check_file(path, fmt, errors_max=FAILURES_SHOWN_MAX):
    """Reads the whole file once without sending: (records, [errors])."""
    count, errors = 0, []
    parse = parse_csv if fmt == "csv" else parse_ndjson
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8").rstrip("\n")
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                if parse(line) is not None:
                    count += 1
            except UnicodeDecodeError:
                errors.append("%s:%d: %s: not valid UTF-8" % (path, number, fmt))
            except InputError as error:
                errors.append("%s:%d: %s" % (path, number, error))
            if len(errors) >= errors_max:
                break
    return count, errors


def generate(count, provider="example", symbols=("AAPL", "MSFT", "ES=F"),
             start_ns=None):
    """`count` valid records, kinds in rotation, each with its own ts_ns
    (start_ns + index) so that no two share an identity (3.1)."""
    start_ns = start_ns or time.time_ns()
    for index in range(count):
        kind = KINDS[index % len(KINDS)]
        symbol = symbols[index % len(symbols)]
        ts_ns = start_ns + index
        price = 100.0 + (index % 97) / 4.0
        if kind == "trade":
            record = [kind, provider, symbol, ts_ns, price, float(index % 9 + 1)]
        elif kind == "quote":
            record = [kind, provider, symbol, ts_ns, price - 0.01, 100.0,
                      price + 0.01, 200.0]
        else:
            record = [kind, provider, symbol, ts_ns, price, price + 0.5,
                      price - 0.5, price + 0.25, 1000.0 + index]
        yield "generated:%d" % index, record


def record_as_json(record, reason=None):
    """A record as an NDJSON object of 7.1 (a dead-letter line when a
    reason is given); NaN and infinities become null."""
    kind = record[0]
    names = HEAD_FIELDS + NUMBER_FIELDS.get(kind, ())
    obj = {}
    for name, value in zip(names, record):
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        obj[name] = value
    if reason is not None:
        obj["reason"] = reason
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------
# Validation of a wire record (ingest.md section 3)

# The control characters of ingest.md 3: C0, DEL and C1, the line and
# paragraph separators, and the bidirectional controls.
_CONTROL = re.compile("[\u0000-\u001f\u007f-\u009f\u2028\u2029\u061c"
                      "\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def utf8_length(text):
    """Bytes of `text` in UTF-8, or None when it holds a lone surrogate (how
    a str read with unicode_errors="surrogateescape" marks invalid UTF-8)."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def has_control_character(text):
    """True when `text` holds a code point ingest.md 3 calls a control
    character (refused in provider and symbol)."""
    return _CONTROL.search(text) is not None


class BadRecord(ValueError):
    """A record that breaks ingest.md 3. `field` names the element at fault
    (None when the array's length is wrong)."""

    def __init__(self, text, field=None):
        ValueError.__init__(self, text)
        self.field = field


def _finite_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def validate_record(record):
    """Checks one decoded record (a list) against ingest.md 3; raises
    BadRecord naming the field. Strings must be str (a msgpack bin arrives
    as bytes and is refused)."""
    if not isinstance(record, list) or not record:
        raise BadRecord("not an array", None)
    kind = record[0]
    if not isinstance(kind, str) or kind not in NUMBER_FIELDS:
        raise BadRecord("field 'kind': expected one of %s" % "|".join(KINDS),
                        "kind")
    fields = NUMBER_FIELDS[kind]
    if len(record) != len(HEAD_FIELDS) + len(fields):
        raise BadRecord("a %s has %d elements, got %d"
                        % (kind, len(HEAD_FIELDS) + len(fields), len(record)))
    for name, value in zip(("provider", "symbol"), record[1:3]):
        if not isinstance(value, str):
            raise BadRecord("field '%s': expected a str" % name, name)
        if utf8_length(value) is None:
            raise BadRecord("field '%s': not valid UTF-8" % name, name)
        if not 1 <= utf8_length(value) <= NAME_MAX_BYTES:
            raise BadRecord("field '%s': 1..%d bytes" % (name, NAME_MAX_BYTES),
                            name)
        if has_control_character(value):
            raise BadRecord("field '%s': contains a control character" % name,
                            name)
    ts_ns = record[3]
    if isinstance(ts_ns, bool) or not isinstance(ts_ns, int) \
            or not 0 < ts_ns <= INT64_MAX:
        raise BadRecord("field 'ts_ns': expected an int64 > 0", "ts_ns")
    numbers = dict(zip(fields, record[4:]))
    for name, value in numbers.items():
        if not _finite_number(value):
            raise BadRecord("field '%s': expected a finite number" % name,
                            name)
        positive = not name.endswith("size") and name != "volume"
        if positive and value <= 0:
            raise BadRecord("field '%s' must be > 0" % name, name)
        if value < 0:
            raise BadRecord("field '%s' must be >= 0" % name, name)
    if kind == "bar" and numbers["high"] < numbers["low"]:
        raise BadRecord("field 'high' must be >= low", "high")
