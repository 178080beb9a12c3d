#!/usr/bin/python3
"""Both services answer GET /health with a body of the same shape.

Usage: test_health_shape.py MDS_COORDINATOR MDP_PIPELINE

The real binaries on 127.0.0.1 (ports chosen at run time): each /health is
200 with a JSON object of exactly the keys "status" ("healthy") and
"service" (the service's name), as store-coordinator/README.md and
pipeline/README.md write it, so a probe or a dashboard reads both alike.
"""
import json
import os
import sys

HERE = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "pipeline"))
from harness import Coordinator, check  # noqa: E402
from pl_support import Pipeline  # noqa: E402

SERVICES = {"coordinator": "market-data-store",
            "pipeline": "market-data-pipeline"}


def body_of(name, service):
    code, body = service.get("/health")
    check(code == 200, "%s /health answered %s" % (name, code))
    value = json.loads(body)
    check(value == {"status": "healthy", "service": SERVICES[name]},
          "%s /health body %r" % (name, value))
    print("ok     %s /health %s" % (name, body.strip()))
    return value


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with Coordinator(sys.argv[1]) as coordinator:
        coordinator.start()
        with Pipeline(sys.argv[2], MDP_STORE_ENDPOINTS=coordinator.ingest_endpoint,
                      MDP_FEEDBACK_ENDPOINTS=coordinator.feedback_endpoint
                      ) as pipeline:
            pipeline.start()
            shapes = [sorted(body_of("coordinator", coordinator)),
                      sorted(body_of("pipeline", pipeline))]
            check(pipeline.stop() == 0, "pipeline did not exit 0")
        check(coordinator.stop() == 0, "coordinator did not exit 0")
    check(shapes[0] == shapes[1], "shapes differ: %r" % shapes)
    print("ok: both /health bodies are {status, service}")


if __name__ == "__main__":
    main()
