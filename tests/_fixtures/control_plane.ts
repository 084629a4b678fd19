// The one real control plane that all e2e tests of a run share. CI and the test script start it
// once (`deno task cluster:up`) and export KOPF_E2E_KUBECONFIG; with KOPF_E2E=1 alone, the current
// control plane is reused, or one is started and left running for the next run.

import * as cluster from "../../tools/control-plane/cluster.ts";

/** The shared control plane: its admin kubeconfig, as a path and as text. */
export interface E2eControlPlane {
  readonly kubeconfigPath: string;
  readonly kubeconfig: string;
}

const explicitKubeconfig = readEnv("KOPF_E2E_KUBECONFIG");

/** Whether e2e tests run: `Deno.test({ ignore: !e2eEnabled, ... })`. */
export const e2eEnabled: boolean = explicitKubeconfig !== undefined ||
  readEnv("KOPF_E2E") === "1";

let shared: Promise<E2eControlPlane | null> | undefined;

/**
 * The shared control plane, or null when e2e tests are off. Memoized: the first call may start a
 * control plane (only with KOPF_E2E=1 and no KOPF_E2E_KUBECONFIG), later calls reuse it.
 */
export function controlPlane(): Promise<E2eControlPlane | null> {
  shared ??= locate();
  return shared;
}

async function locate(): Promise<E2eControlPlane | null> {
  if (!e2eEnabled) return null;
  const kubeconfigPath = explicitKubeconfig ?? await currentOrStarted();
  return { kubeconfigPath, kubeconfig: await Deno.readTextFile(kubeconfigPath) };
}

/**
 * The kubeconfig of the control plane `cluster:up` started last if it is ready, else of a new
 * one that becomes current. A file lock keeps parallel test workers from starting two.
 */
async function currentOrStarted(): Promise<string> {
  await Deno.mkdir(cluster.cacheRoot(), { recursive: true });
  using lock = await Deno.open(`${cluster.cacheRoot()}/current.lock`, {
    create: true,
    write: true,
  });
  await lock.lock(true);
  const pointer = cluster.currentPointerPath();
  const dir = (await Deno.readTextFile(pointer).catch(() => "")).trim();
  const current = dir ? await cluster.inspectControlPlane(dir) : null;
  if (current?.ready) return current.state.kubeconfigPath;
  const plane = await cluster.startControlPlane({ log: (line) => console.error(line) });
  await Deno.writeTextFile(pointer, plane.dir + "\n");
  console.error(
    `control-plane: left running for later runs; stop it with \`deno task cluster:down\``,
  );
  return plane.kubeconfigPath;
}

/** Undefined when unset, empty, or not readable (no --allow-env: e2e tests stay off). */
function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/** A control plane of one test's own, which it may break (stop kube-apiserver, compact etcd). */
export interface PrivateControlPlane extends AsyncDisposable {
  readonly kubeconfigPath: string;
  readonly dir: string;
  /** Stops kube-apiserver only; etcd keeps the data. */
  stopApiserver(): Promise<void>;
  /** Starts kube-apiserver again on the same port and waits until it is ready. */
  startApiserver(): Promise<void>;
  /** Compacts etcd's history up to its current revision: older resourceVersions are gone. */
  compactEtcd(): Promise<void>;
}

/**
 * Starts a control plane for one test (~5 s with cached binaries), without
 * kube-controller-manager; `await using` stops it and removes its directory.
 */
export async function privateControlPlane(): Promise<PrivateControlPlane> {
  const plane = await cluster.startControlPlane({ controllerManager: false });
  return {
    kubeconfigPath: plane.kubeconfigPath,
    dir: plane.dir,
    stopApiserver: () => cluster.stopApiserver(plane.dir),
    startApiserver: () => cluster.startApiserverAgain(plane.dir),
    compactEtcd: () => compactEtcd(plane.dir),
    [Symbol.asyncDispose]: () => plane.stop(),
  };
}

/** Compacts the etcd of the control plane in `dir` to its current revision (physically). */
export async function compactEtcd(dir: string): Promise<void> {
  const state = JSON.parse(await Deno.readTextFile(`${dir}/state.json`)) as cluster.State;
  const etcd = `http://127.0.0.1:${state.ports.etcdClient}/v3/kv`;
  const range = await fetch(`${etcd}/range`, {
    method: "POST",
    body: JSON.stringify({ key: "AA==", limit: 1 }),
  });
  const revision = ((await range.json()) as { header: { revision: string } }).header.revision;
  const compaction = await fetch(`${etcd}/compaction`, {
    method: "POST",
    body: JSON.stringify({ revision, physical: true }),
  });
  await compaction.body?.cancel();
  if (!compaction.ok) {
    throw new Error(`etcd compaction to ${revision} failed with ${compaction.status}`);
  }
}
