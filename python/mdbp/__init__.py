"""mdbp: the market-data backpressure protocol v1 (v1.1) for Python.

The feedback channel (proto/feedback.md) in mdbp.feedback, the ingest
protocol (proto/ingest.md) in mdbp.ingest, records and their text formats
in mdbp.records, and the conformance corpus runner in mdbp.conformance.
Depends on pyzmq and msgpack (Debian: python3-zmq, python3-msgpack)."""

__version__ = "1.1.0"
PROTOCOL_VERSION = 1

from .feedback import (FeedbackClient, Malformed, VersionMismatch,  # noqa
                       decode as decode_feedback, decode_body, topic_for)
from .ingest import (MalformedBatch, MalformedReply, Producer,  # noqa
                     decode_batch, decode_reply, encode_batch, new_session)
