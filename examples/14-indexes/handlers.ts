// Lookups across objects. An index keeps in memory what its function returns for each object of
// a resource, merged per key over all the objects; every handler gets it as a context field named
// after the function. Here: the ConfigMaps of each app (their label `app`), which a KopfExample
// names in `spec.app`. No handler runs before the indexes have their initial listings, and a
// deleted ConfigMap leaves the index at once.
//
// Run: deno run -A cli.ts run examples/14-indexes/handlers.ts -n default
// Then: kubectl apply -n default -f examples/14-indexes/configmaps.yaml -f examples/14-indexes/obj.yaml

import * as kopf from "../../mod.ts";

interface KopfExampleSpec {
  app?: string;
}

/** The index, as the handlers below see it: app → the names of its ConfigMaps. */
interface WithConfigs {
  readonly configsByApp: kopf.Index<string, string>;
}

kopf.on.index("configmaps", function configsByApp({ labels, name }) {
  // Undefined indexes nothing: ConfigMaps without the label stay out.
  return labels.app === undefined ? undefined : { [labels.app]: name };
});

// Once, at creation: the app's ConfigMaps at that moment go to status.listConfigs.
kopf.on.create(
  "kopfexamples.kopf.dev",
  function listConfigs(ctx: kopf.ChangingContext<KopfExampleSpec> & WithConfigs) {
    const configs = [...ctx.configsByApp.get(ctx.spec.app ?? "") ?? []].sort();
    ctx.logger.info(`${ctx.spec.app} has ${configs.length} ConfigMaps: ${configs.join(", ")}`);
    return { configs };
  },
);

// Every 2 s: how many there are now, so that a deleted or added ConfigMap shows.
kopf.on.timer(
  "kopfexamples.kopf.dev",
  { interval: 2 },
  function countConfigs(ctx: kopf.TimerContext<KopfExampleSpec> & WithConfigs) {
    return { count: ctx.configsByApp.get(ctx.spec.app ?? "")?.size ?? 0 };
  },
);
