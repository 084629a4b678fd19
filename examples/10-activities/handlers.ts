// Operator-wide activities, with no object involved: `on.startup` prepares the operator before
// it connects (it may change the settings and fill the operator memo), `on.login` says how to
// connect, `on.probe` adds to the liveness report, and `on.cleanup` runs once it has stopped.
// Every object's memo starts as a shallow copy of the operator memo, so what startup puts
// there is shared by all objects' handlers.
//
// Run: deno run -A cli.ts run examples/10-activities/handlers.ts -n default \
//        --liveness http://127.0.0.1:8080/healthz

import * as kopf from "../../mod.ts";

/** What the handlers share through the operator memo. */
interface Stats {
  created: number;
}

/** The stats, once `configure` has run (probes may be asked while the operator starts). */
function statsOf(memo: kopf.Memo): Stats | undefined {
  return memo.stats as Stats | undefined;
}

kopf.on.startup(function configure({ settings, memo, logger }) {
  // Info lines of the object loggers become Kubernetes Events too (the default: warnings).
  settings.posting.level = "info";
  memo.stats = { created: 0 } satisfies Stats;
  logger.info("Configured: object info lines become Events; counting new examples");
});

kopf.on.startup({ retries: 5 }, function wait_for_dependencies({ retry, logger }) {
  // Startup handlers are retried until they succeed: nothing is served before.
  if (retry < 2) {
    throw new kopf.TemporaryError(`The dependencies are not ready (attempt ${retry + 1})`, {
      delay: 1,
    });
  }
  logger.info("The dependencies are ready");
});

kopf.on.login(async function login_fn({ logger }) {
  // The same sources as without a login handler; a token from a vault would do as well:
  // return { server: "https://…", token: "…", caData: "-----BEGIN CERTIFICATE-----…" };
  const connection = Deno.env.get("KUBERNETES_SERVICE_HOST")
    ? await kopf.loginWithServiceAccount()
    : await kopf.loginWithKubeconfig();
  logger.info(`Logging in to ${connection.server}`);
  return connection;
});

kopf.on.create("kopfexamples.kopf.dev", function count_fn({ memo, logger }) {
  const stats = memo.stats as Stats; // the startup handlers have run before any object
  stats.created += 1;
  logger.info(`Counted as new example #${stats.created}`);
  return { number: stats.created };
});

kopf.on.probe(function created({ memo }) {
  return statsOf(memo)?.created ?? 0;
});

kopf.on.probe(function checked_at() {
  return new Date().toISOString();
});

kopf.on.cleanup(function farewell({ memo, logger }) {
  logger.info(`Stopping after ${statsOf(memo)?.created ?? 0} new examples`);
});
