"""mdp-pipeline admin endpoints (POST /admin/cooldown, POST /admin/scale).

Without MDP_ADMIN_TOKEN both answer 404. With it, a missing or wrong bearer
token answers 401 and changes nothing (/status shows no cooldown, no cap);
the right token triggers a cooldown that /status shows (global and a
URL-encoded scope), stops production while the global one lasts, and caps
the provider's scale (0.25, 0: paused, 1: cap removed). Bad parameters
answer 400 (a scope that names nothing of the provider too), an unknown
provider 404. No coordinator is needed: the sender just waits for one.

Scopes pause what they name (issue 11): against a Python store that acks,
`symbol:AAPL` stops AAPL records while MSFT ones go on, `provider:sim`
stops sim while `other` goes on; pipeline_cooldowns_active counts them.

usage: test_admin.py MDP_PIPELINE
"""
import json
import sys
import time
import urllib.error
import urllib.request

import msgpack
import zmq

from pl_support import Pipeline, check, free_port, wait_for

TOKEN = "s3cret-token"


def post(pipeline, path, token=None):
    url = "http://127.0.0.1:%d%s" % (pipeline.http_port, path)
    request = urllib.request.Request(url, data=b"", method="POST")
    if token is not None:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def provider_status(pipeline, name="sim"):
    code, body = pipeline.get("/status")
    check(code == 200, "/status answered %s" % code)
    providers = json.loads(body)["providers"]
    for provider in providers:
        if provider["name"] == name:
            return provider
    return None


def settings(**extra):
    env = dict(MDP_PROVIDERS="sim,other",
               MDP_STORE_ENDPOINTS="tcp://127.0.0.1:%d" % free_port(),
               MDP_FB_ENABLE_FEEDBACK="false",
               MDP_RATE_SIM_REFILL_RATE=200, MDP_RATE_SIM_CAPACITY=10,
               MDP_SHUTDOWN_TIMEOUT_MS=100)
    env.update(extra)
    return env


def test_scopes_pause_what_they_name(binary):
    context = zmq.Context.instance()
    store = context.socket(zmq.ROUTER)
    port = store.bind_to_random_port("tcp://127.0.0.1")
    seen = []  # (provider, symbol, ts_ns) of every record received

    def pump():
        while store.poll(0):
            identity, body = store.recv_multipart()
            batch = msgpack.unpackb(body, raw=False)
            for record in batch["records"]:
                seen.append((record[1], record[2], record[3]))
            store.send_multipart([identity, msgpack.packb({
                "v": 1, "type": "ack", "batch_seq": batch["batch_seq"],
                "written": len(batch["records"]), "duplicates": 0,
                "dead_lettered": 0})])
    with Pipeline(binary, **settings(
            MDP_ADMIN_TOKEN=TOKEN,
            MDP_STORE_ENDPOINTS="tcp://127.0.0.1:%d" % port,
            MDP_PROVIDER_SIM_SYMBOLS="AAPL,MSFT",
            MDP_RATE_SIM_REFILL_RATE=400, MDP_RATE_OTHER_REFILL_RATE=400,
            MDP_SEND_BATCH_MS=10)) as pipeline:
        pipeline.start()
        wait_for(lambda: pump() or any(p == "sim" and s == "AAPL"
                                       for p, s, _ in seen), 20,
                 "AAPL records before the cooldown")
        code, _ = post(pipeline, "/admin/cooldown?provider=sim"
                       "&scope=symbol%3AAAPL&seconds=60", TOKEN)
        check(code == 202, "symbol cooldown answered %s" % code)
        wait_for(lambda: any(c["scope"] == "symbol:AAPL"
                             for c in provider_status(pipeline)["cooldowns"]),
                 10, "the symbol:AAPL cooldown in /status")
        applied_ns = time.time_ns()
        pipeline.wait_metric('pipeline_cooldowns_active{provider="sim"}',
                             lambda v: v == 1, 10, "the cooldown gauge")

        def msft_after(count):
            pump()
            return sum(1 for p, s, ts in seen
                       if p == "sim" and s == "MSFT" and ts > applied_ns) >= \
                count
        wait_for(lambda: msft_after(100), 20, "MSFT records go on")
        aapl = [ts for p, s, ts in seen
                if p == "sim" and s == "AAPL" and ts > applied_ns]
        check(not aapl, "%d AAPL records made during its cooldown"
              % len(aapl))

        code, _ = post(pipeline, "/admin/cooldown?provider=sim"
                       "&scope=provider%3Asim&seconds=60", TOKEN)
        check(code == 202, "provider cooldown answered %s" % code)
        wait_for(lambda: any(c["scope"] == "provider:sim"
                             for c in provider_status(pipeline)["cooldowns"]),
                 10, "the provider:sim cooldown in /status")
        applied_ns = time.time_ns()

        def other_after(count):
            pump()
            return sum(1 for p, s, ts in seen
                       if p == "other" and ts > applied_ns) >= count
        wait_for(lambda: other_after(100), 20, "the other provider goes on")
        sim = [ts for p, _, ts in seen if p == "sim" and ts > applied_ns]
        check(not sim, "%d sim records made during provider:sim" % len(sim))
        check(pipeline.metric('pipeline_cooldowns_active{provider="sim"}')
              == 2, "the cooldown gauge does not count both")
        pipeline.process.terminate()
        wait_for(lambda: pump() or pipeline.process.poll() is not None, 30,
                 "exit")
    store.close()
    print("ok: symbol:S and provider:P cooldowns pause what they name")


def main():
    binary = sys.argv[1]
    test_scopes_pause_what_they_name(binary)
    # No token configured: the admin routes do not exist.
    with Pipeline(binary, **settings()) as pipeline:
        pipeline.start()
        for path in ("/admin/cooldown?provider=sim&seconds=30",
                     "/admin/scale?provider=sim&scale=0.5"):
            for token in (None, TOKEN):
                code, _ = post(pipeline, path, token)
                check(code == 404, "%s without MDP_ADMIN_TOKEN answered %s"
                      % (path, code))
        wait_for(lambda: provider_status(pipeline), 10, "/status providers")
        check(provider_status(pipeline)["cooldowns"] == [],
              "a cooldown appeared although admin is disabled")
        pipeline.stop()

    with Pipeline(binary, **settings(MDP_ADMIN_TOKEN=TOKEN)) as pipeline:
        pipeline.start()
        wait_for(lambda: provider_status(pipeline), 10, "/status providers")
        scale_key = 'pipeline_rate_scale_factor{provider="sim"}'
        # Missing or wrong token: 401 and nothing changes.
        for token in (None, "wrong", TOKEN + "x", TOKEN[:-1], ""):
            for path in ("/admin/cooldown?provider=sim&seconds=30",
                         "/admin/scale?provider=sim&scale=0"):
                code, _ = post(pipeline, path, token)
                check(code == 401, "%s with token %r answered %s"
                      % (path, token, code))
        # Bad parameters (right token): refused, nothing changes.
        for path, expected in [
                ("/admin/cooldown", 400),
                ("/admin/cooldown?seconds=3", 400),
                ("/admin/cooldown?provider=nosuch&seconds=3", 404),
                ("/admin/cooldown?provider=sim&seconds=-1", 400),
                ("/admin/cooldown?provider=sim&seconds=abc", 400),
                ("/admin/cooldown?provider=sim&seconds=%zz", 400),
                ("/admin/cooldown?provider=sim&scope=bogus", 400),
                ("/admin/cooldown?provider=sim&scope=provider%3Aother", 400),
                ("/admin/cooldown?provider=sim&scope=symbol%3ANOPE", 400),
                ("/admin/scale?provider=sim", 400),
                ("/admin/scale?provider=sim&scale=1.5", 400),
                ("/admin/scale?provider=sim&scale=nan", 400),
                ("/admin/scale?provider=nosuch&scale=0.5", 404)]:
            code, body = post(pipeline, path, TOKEN)
            check(code == expected, "%s answered %s (%s), expected %d"
                  % (path, code, body, expected))
        sim = provider_status(pipeline)
        check(sim["cooldowns"] == [] and sim["scale_override"] == 1.0,
              "a refused request changed the provider: %s" % sim)
        check(pipeline.metric(scale_key) == 1.0, "scale changed")

        # The right token: a per-symbol cooldown (URL-encoded scope)...
        code, _ = post(pipeline, "/admin/cooldown?provider=sim"
                       "&scope=symbol%3AAAPL&seconds=30", TOKEN)
        check(code == 202, "cooldown with the token answered %s" % code)
        wait_for(lambda: any(c["scope"] == "symbol:AAPL"
                             for c in provider_status(pipeline)["cooldowns"]),
                 10, "the symbol:AAPL cooldown in /status")
        # ... and a global one, which stops production while it lasts.
        code, _ = post(pipeline, "/admin/cooldown?provider=sim&seconds=30",
                       TOKEN)
        check(code == 202, "global cooldown answered %s" % code)

        def global_cooldown():
            for cooldown in provider_status(pipeline)["cooldowns"]:
                if cooldown["scope"] == "global":
                    return cooldown["seconds_left"]
            return None
        left = wait_for(global_cooldown, 10, "the global cooldown in /status")
        check(0 < left <= 30, "seconds_left %s" % left)
        produced_key = 'pipeline_records_produced_total{provider="sim"}'
        produced = pipeline.metric(produced_key)
        wait_for(lambda: (global_cooldown() or 30) < left - 0.5, 10,
                 "the cooldown to run for half a second")
        check(pipeline.metric(produced_key) == produced,
              "records were produced during a global cooldown")
        check(provider_status(pipeline, "other")["cooldowns"] == [],
              "the cooldown leaked to another provider")

        # Manual scale cap.
        code, _ = post(pipeline, "/admin/scale?provider=sim&scale=0.25",
                       TOKEN)
        check(code == 202, "scale override answered %s" % code)
        pipeline.wait_metric(scale_key, lambda v: v == 0.25, 10, "scale 0.25")
        wait_for(lambda: provider_status(pipeline)["scale_override"] == 0.25,
                 10, "the override in /status")
        check(pipeline.metric('pipeline_rate_scale_factor{provider="other"}')
              == 1.0, "the override leaked to another provider")
        post(pipeline, "/admin/scale?provider=sim&scale=0", TOKEN)
        pipeline.wait_metric('pipeline_paused{provider="sim"}',
                             lambda v: v == 1, 10, "paused by scale=0")
        post(pipeline, "/admin/scale?provider=sim&scale=1", TOKEN)
        pipeline.wait_metric(scale_key, lambda v: v == 1.0, 10,
                             "cap removed")
        check(pipeline.metric('pipeline_paused{provider="sim"}') == 0,
              "still paused after the cap was removed")
        check(pipeline.stop() == 0, "SIGTERM did not exit 0")
    print("ok")


if __name__ == "__main__":
    main()
