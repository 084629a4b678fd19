// The admission benchmark's operator (bench/admission.ts): one validating webhook for the
// BenchAdmissions labelled bench=deno, allowing all but `spec.reject` (the readiness probe).

import * as kopf from "../../../mod.ts";

kopf.on.validate(
  "benchadmissions.bench.kopf.dev",
  { labels: { bench: "deno" } },
  function check({ spec }) {
    if (spec.reject) throw new kopf.AdmissionError("rejected", { code: 422 });
  },
);
