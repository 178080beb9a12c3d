"""`curl /metrics | promtool check metrics` exits 0, with the seed's metric
names present and moving."""
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Coordinator, Producer, batches_of, check, records  # noqa

NAMES = [
    "coordinator_queue_depth", "coordinator_queue_capacity",
    "coordinator_backpressure_ok", "coordinator_backpressure_soft",
    "coordinator_backpressure_hard", "coordinator_backpressure_level",
    "mds_feedback_events_total", "coordinator_records_received_total",
    "coordinator_records_written_total", "coordinator_records_duplicate_total",
    "coordinator_records_rejected_total",
    "coordinator_records_dead_lettered_total",
    "coordinator_batch_write_duration_seconds_bucket",
    "coordinator_sink_errors_total", "coordinator_sink_retries_total",
    "coordinator_breaker_state", "coordinator_malformed_messages_total",
    "coordinator_nacks_total", "coordinator_drain_rate_records_per_second",
]


def main(binary, promtool, curl):
    with Coordinator(binary) as coordinator:
        coordinator.start(ready=True)
        producer = Producer(coordinator.ingest_endpoint)
        producer.send_all(batches_of(records(0, 2000), 250), timeout=20)
        producer.send_raw(b"\xc1")
        check(producer.recv(5)["reason"] == "malformed", "malformed not nacked")
        url = "http://127.0.0.1:%d/metrics" % coordinator.http_port
        if curl:
            body = subprocess.run([curl, "-sf", url], capture_output=True,
                                  timeout=10, check=True).stdout
        else:
            import urllib.request
            body = urllib.request.urlopen(url, timeout=10).read()
        result = subprocess.run([promtool, "check", "metrics"], input=body,
                                capture_output=True, timeout=30)
        check(result.returncode == 0, "promtool exit %d: %s %s"
              % (result.returncode, result.stdout, result.stderr))
        text = body.decode()
        for name in NAMES:
            check(("\n" + name + "{") in text, "missing %s" % name)
        metrics = coordinator.metrics()
        check(metrics["coordinator_records_written_total"] == 2000, "written")
        check(metrics["coordinator_malformed_messages_total"] == 1, "malformed")
        check(metrics['coordinator_backpressure_ok{coordinator_id="%s"}'
                      % coordinator.coordinator_id] == 1, "backpressure_ok")
        producer.close()
        check(coordinator.stop() == 0, "exit code not 0")

    # MDS_COORDINATOR_ID unset: the host name, in /status and the labels.
    with Coordinator(binary, MDS_COORDINATOR_ID=None) as coordinator:
        coordinator.start()
        host = socket.gethostname()[:64]
        check(coordinator.status()["coordinator_id"] == host,
              "default id %r, host %r" % (coordinator.status()["coordinator_id"],
                                          host))
        check('coordinator_queue_depth{coordinator_id="%s"}' % host
              in coordinator.metrics(), "metrics not labelled with the host")
        check(coordinator.stop() == 0, "exit code not 0")
    print("ok: promtool check metrics passed, %d names present" % len(NAMES))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
