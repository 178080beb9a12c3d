"""A peer cannot forge log fields (issue 12 item 5), live: a batch whose map
key is `" level=error event=forged x="` with a truncated value is nacked
`malformed` with that key quoted in the detail, and the coordinator logs
the detail. In JSON log mode the detail stays inside its "detail" string:
no line gains a forged "event" or a second level; in text mode the quotes
are escaped and an ESC byte from the peer is never written raw."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import msgpack  # noqa: E402
from harness import Coordinator, Producer, check, wait_for  # noqa: E402

FORGED_KEY = '" level=error event=forged x="'


def forged_message(key):
    """{"v": 1, KEY: <a float64 cut short>}: the decoder quotes KEY."""
    return (b"\x82" + msgpack.packb("v") + msgpack.packb(1)
            + msgpack.packb(key) + b"\xcb\x00")


def nack_detail(coordinator, key):
    producer = Producer(coordinator.ingest_endpoint)
    producer.send_raw(forged_message(key))
    reply = producer.recv(5.0)
    producer.close()
    check(reply is not None and reply["reason"] == "malformed",
          "reply %r" % (reply,))
    return reply["detail"]


def main(binary):
    with Coordinator(binary, MDS_LOG_FORMAT="json") as coordinator:
        coordinator.start(ready=True)
        detail = nack_detail(coordinator, FORGED_KEY)
        check(FORGED_KEY in detail, "the key is not quoted: %r" % detail)
        wait_for(lambda: "malformed_message" in coordinator.read_log(), 10,
                 "the malformed_message line")
        lines = [json.loads(line) for line in
                 coordinator.read_log().splitlines() if line.startswith("{")]
        logged = [line for line in lines
                  if line.get("event") == "malformed_message"]
        check(len(logged) == 1, "malformed_message lines: %r" % logged)
        check(logged[0]["level"] == "warning"
              and logged[0]["detail"] == detail,
              "the detail left its string: %r" % logged[0])
        check(not any(line.get("event") == "forged" for line in lines),
              "a forged event was logged")
        check(coordinator.stop() == 0, "exit code not 0")

    with Coordinator(binary, MDS_LOG_FORMAT="text") as coordinator:
        coordinator.start(ready=True)
        nack_detail(coordinator, "\x1b[2J" + FORGED_KEY)
        wait_for(lambda: "malformed_message" in coordinator.read_log(), 10,
                 "the malformed_message line")
        log = coordinator.read_log()
        line = [text for text in log.splitlines()
                if "malformed_message" in text][0]
        check("\x1b" not in log, "an ESC byte was logged raw: %r" % line)
        check('\\x1b[2J\\" level=error event=forged' in line,
              "the detail is not escaped: %r" % line)
        check(coordinator.stop() == 0, "exit code not 0")
    print("ok: a forged key stays inside the detail, JSON and text")


if __name__ == "__main__":
    main(sys.argv[1])
