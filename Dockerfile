# An operator built with Kopf for Deno, as one binary in a distroless image.
#
#   docker build -t kopf-example .
#
# Stage 1 compiles examples/01-minimal/main.ts with `deno compile`; stage 2 is distroless/cc
# (glibc and libgcc, no shell) running the binary as a non-root user.
#
# Your own operator: a compiled binary contains only the modules its entry point imports
# statically, so it cannot load handler files by path as `cli.ts run handlers.ts` does. Write an
# entry point like examples/01-minimal/main.ts whose `import "./handlers.ts"` names your
# handlers (one import per file), copy your files in below, and build with
#
#   docker build --build-arg ENTRYPOINT=operator/main.ts -t my-operator .
#
# The arguments of the image are those of `cli.ts run` (`-n NAMESPACE`, `-A`, `--liveness URL`,
# `--log-format json`, …; see `deno run -A cli.ts run --help`), minus the handler paths.
#
# V8 flags are fixed at compile time too: `--build-arg V8_FLAGS=--optimize-for-size` (several:
# comma-separated) cut the peak memory of a 1,000-object burst by 37 % and of a steady load by
# 47 %, for 5-13 % more CPU against the same peer (bench/README.md, "V8 settings").

ARG DENO_VERSION=2.9.6

FROM denoland/deno:${DENO_VERSION} AS build
ARG ENTRYPOINT=examples/01-minimal/main.ts
ARG V8_FLAGS=""
WORKDIR /src
COPY deno.json deno.lock ./
COPY mod.ts ./
COPY lib/ lib/
COPY examples/ examples/
# The npm packages at the versions and hashes of deno.lock.
RUN deno install --frozen-lockfile --entrypoint "${ENTRYPOINT}"
# Permissions are fixed at compile time. The API server's address is known only at run time
# (in a pod: KUBERNETES_SERVICE_HOST), hence any network; files: the service account's token
# and CA only; environment: what the client reads (the yaml package reads LOG_TOKENS and
# LOG_STREAM when it parses a kubeconfig) and POD_ID, the identity among peers (without it, and
# without --allow-sys=hostname, the identity is unknown@localhost/<time>/<random>). Add
# --allow-read=<path> to use a mounted kubeconfig.
RUN deno compile --frozen-lockfile --output /out/operator \
      ${V8_FLAGS:+"--v8-flags=${V8_FLAGS}"} \
      --allow-net \
      --allow-read=/var/run/secrets/kubernetes.io/serviceaccount \
      --allow-env=KUBECONFIG,HOME,KUBERNETES_SERVICE_HOST,KUBERNETES_SERVICE_PORT,POD_NAMESPACE,POD_ID,KOPF_INSECURE_SKIP_TLS_VERIFY,LOG_TOKENS,LOG_STREAM \
      "${ENTRYPOINT}"

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/operator /usr/local/bin/operator
# Numeric, so that Kubernetes can verify `runAsNonRoot: true`.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/operator"]
CMD ["--all-namespaces"]
