# The admission benchmark's Kopf operator (bench/admission.ts): the same validating webhook as
# bench/operators/deno/admission.ts, for the BenchAdmissions labelled bench=$BENCH_LABEL, served by
# kopf.WebhookServer with the certificate files the driver made (ECDSA P-256, as ours).
import os

import kopf


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_):
    settings.admission.server = kopf.WebhookServer(
        addr="127.0.0.1",
        host="127.0.0.1",
        port=int(os.environ["BENCH_PORT"]),
        certfile=os.environ["BENCH_CERT"],
        pkeyfile=os.environ["BENCH_KEY"],
        cafile=os.environ["BENCH_CA"],
    )
    settings.admission.managed = os.environ["BENCH_MANAGED"]


@kopf.on.validate(
    "benchadmissions.bench.kopf.dev",
    labels={"bench": os.environ.get("BENCH_LABEL", "kopf")},
)
async def check(spec, **_):
    if spec.get("reject"):
        raise kopf.AdmissionError("rejected", code=422)
