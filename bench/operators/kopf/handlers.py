# The benchmarked Python Kopf 1.45.2 operator: the behaviour of bench/operators/BEHAVIOUR.md for
# benchobjects.v1.bench.kopf.dev, at Kopf's defaults (posting of events included). The variant
# comes from BENCH_VARIANT (create, delete, three, update); the namespace is the `-n` of the
# command line.
#
# Run: kopf run --standalone -n <namespace> bench/operators/kopf/handlers.py

import os
import time

import kopf

RESOURCE = ("bench.kopf.dev", "v1", "benchobjects")
VARIANTS = ("create", "delete", "three", "update")

variant = os.environ.get("BENCH_VARIANT", "create")
if variant not in VARIANTS:
    raise RuntimeError(f"Unknown BENCH_VARIANT {variant!r}: expected one of {', '.join(VARIANTS)}")

if variant in ("create", "delete", "update"):

    @kopf.on.create(*RESOURCE)
    async def create_fn(name, spec, patch, **_):
        started_at = int(time.time() * 1000)
        patch.status["message"] = f"handled {name}"
        patch.status["startedAt"] = started_at
        if variant == "update" and "value" in spec:
            patch.status["observed"] = spec["value"]

if variant == "delete":

    # A non-optional delete handler: Kopf keeps its finalizer on the object until it ran.
    @kopf.on.delete(*RESOURCE)
    async def delete_fn(**_):
        pass

if variant == "update":

    # Runs for every change of the spec after the create handler ran (the status is not watched).
    @kopf.on.update(*RESOURCE)
    async def update_fn(spec, patch, **_):
        if "value" in spec:
            patch.status["observed"] = spec["value"]

if variant == "three":

    @kopf.on.create(*RESOURCE)
    async def h1(name, patch, **_):
        started_at = int(time.time() * 1000)
        patch.status["message"] = f"handled {name}"
        patch.status["startedAt"] = started_at
        patch.status["h1"] = "done"

    @kopf.on.create(*RESOURCE)
    async def h2(patch, **_):
        patch.status["h2"] = "done"

    @kopf.on.create(*RESOURCE)
    async def h3(patch, **_):
        patch.status["h3"] = "done"
