"""
The Python Kopf side of the peering interop tests: the same handler id ("first") on
kopfexamples.v1.kopf.dev as tests/_fixtures/handlers/peering_operator.ts. Every invocation appends
one JSON line {"by", "name", "at", "recorded"} to $KOPF_TEST_INVOCATIONS.
"""
import json
import os
import time

import kopf

INVOCATIONS = os.environ["KOPF_TEST_INVOCATIONS"]
IDENT = os.environ.get("KOPF_TEST_IDENT", "kopf")
DIFFBASE = "kopf.zalando.org/last-handled-configuration"


@kopf.on.create("kopf.dev", "v1", "kopfexamples", id="first")
def first(name, annotations, **_):
    line = {"by": IDENT, "name": name, "at": int(time.time() * 1000),
            "recorded": DIFFBASE in annotations}
    with open(INVOCATIONS, "a") as f:
        f.write(json.dumps(line) + "\n")
    return {"by": IDENT}
