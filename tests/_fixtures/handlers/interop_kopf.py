"""
The Python Kopf side of tests/e2e/interop_test.ts: the same handler ids as the Deno side
(first, flaky, farewell) on kopfexamples.v1.kopf.dev. Every invocation appends one JSON line
{"by", "handler", "name", "retry"} to $KOPF_TEST_INVOCATIONS. With $KOPF_TEST_FLAKY_DELAY set,
"flaky" fails its first attempt on objects named waiting-* with that retry delay (seconds).
"""
import json
import os

import kopf

INVOCATIONS = os.environ["KOPF_TEST_INVOCATIONS"]
FLAKY_DELAY = float(os.environ.get("KOPF_TEST_FLAKY_DELAY") or 0)
RESOURCE = ("kopf.dev", "v1", "kopfexamples")


def record(handler: str, name: str, retry: int) -> None:
    with open(INVOCATIONS, "a") as f:
        f.write(json.dumps({"by": "kopf", "handler": handler, "name": name, "retry": retry}) + "\n")


@kopf.on.create(*RESOURCE, id="first")
def first(name, retry, **_):
    record("first", name, retry)
    return {"by": "kopf"}


@kopf.on.create(*RESOURCE, id="flaky")
def flaky(name, retry, **_):
    record("flaky", name, retry)
    if FLAKY_DELAY and retry == 0 and name.startswith("waiting-"):
        raise kopf.TemporaryError("not yet", delay=FLAKY_DELAY)


@kopf.on.delete(*RESOURCE, id="farewell")
def farewell(name, retry, **_):
    record("farewell", name, retry)
