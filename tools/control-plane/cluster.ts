// Starts and stops a throwaway Kubernetes control plane on loopback: etcd, kube-apiserver and
// kube-controller-manager as built by build.sh, with openssl-made certificates and a stand-alone
// kubeconfig. A CLI (`up`, `down`, `status`) for CI and humans, and a module for e2e fixtures.

import { parseArgs } from "node:util";

// Nothing is read at import time: importing this module needs no permissions.
const BUILD_SCRIPT = new URL("./build.sh", import.meta.url).pathname;
const VERSION_FILE = new URL("./VERSION", import.meta.url);

const POLL_INTERVAL_MS = 100;
const ETCD_TIMEOUT_SECONDS = 30;
const READY_TIMEOUT_SECONDS = 60;
const NAMESPACE_TIMEOUT_SECONDS = 10;
const PIDFILE_TIMEOUT_SECONDS = 5;
const CONTROLLER_MANAGER_SETTLE_SECONDS = 1;
const CONTROLLER_MANAGER_SYNC_TIMEOUT_SECONDS = 15;
const STOP_TIMEOUT_SECONDS = 10;
const KILL_TIMEOUT_SECONDS = 5;
const CERT_VALIDITY_DAYS = 30;
const LOG_TAIL_LINES = 20;
const PROBE_TIMEOUT_SECONDS = 5;
/** kube-controller-manager serves nothing with `--secure-port=0`: its log is the only signal. */
const GC_SYNCED_MARKER = "Garbage collector: all resource monitors have synced";

/** The three processes, in start order; they are stopped in reverse. */
export const COMPONENTS = ["etcd", "kube-apiserver", "kube-controller-manager"] as const;
/** One of {@linkcode COMPONENTS}; also the binary name, the log name and the key in `pids.json`. */
export type Component = typeof COMPONENTS[number];
/** The content of `<dir>/pids.json`: only the components started so far. */
export type Pids = Partial<Record<Component, number>>;

/** A running control plane, as returned by {@linkcode startControlPlane}. */
export interface ControlPlane {
  /** `<dir>/kubeconfig`: server, CA and admin credentials embedded, so the file stands alone. */
  readonly kubeconfigPath: string;
  /** `https://127.0.0.1:<port>`, without a trailing slash. */
  readonly server: string;
  /** The run directory: certificates, logs, `pids.json`, `state.json`, `kubeconfig`. */
  readonly dir: string;
  readonly pids: Readonly<Pids>;
  /** Stops the processes and removes the run directory: `stopControlPlane(dir)`. */
  stop(): Promise<void>;
}

/** How to start a control plane. */
export interface StartOptions {
  /** The run directory; created if missing. @default {a new `$TMPDIR/kopf-control-plane-*`} */
  dir?: string;
  /** Where the three binaries are. @default {what build.sh prints; it builds when needed} */
  binDir?: string;
  /** Whether to run kube-controller-manager (garbage collector, namespaces). @default {true} */
  controllerManager?: boolean;
  /** More kube-apiserver flags (e.g. `--audit-log-path=…`); kept for restarts. @default {[]} */
  apiserverArgs?: readonly string[];
  /** How long kube-apiserver may take to answer `/readyz` with 200. @default {60} */
  readyTimeoutSeconds?: number;
  /** Where progress lines go. @default {nowhere} */
  log?: (line: string) => void;
  /** Aborting stops whatever was started and rejects. */
  signal?: AbortSignal;
}

/** What `up` leaves in `<dir>/state.json` for `down`, `status` and humans. */
export interface State {
  readonly version: string;
  readonly dir: string;
  readonly binDir: string;
  readonly etcdDataDir: string;
  readonly server: string;
  readonly kubeconfigPath: string;
  readonly ports: { etcdClient: number; etcdPeer: number; apiserver: number };
  readonly logs: Record<Component, string>;
  /** The extra kube-apiserver flags of `StartOptions.apiserverArgs`. */
  readonly apiserverArgs?: readonly string[];
  readonly startedAt: string;
  readonly readyAt?: string;
}

/** A start or stop failed: a one-line message; log tails or probe output in `details`. */
export class ControlPlaneError extends Error {
  readonly details: string | undefined;
  constructor(message: string, details?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ControlPlaneError";
    this.details = details;
  }
}

/** `${KOPF_CONTROL_PLANE_CACHE:-${XDG_CACHE_HOME:-~/.cache}/kopf-deno/control-plane}` as in build.sh. */
export function cacheRoot(): string {
  const explicit = Deno.env.get("KOPF_CONTROL_PLANE_CACHE");
  if (explicit) return explicit;
  const xdg = Deno.env.get("XDG_CACHE_HOME") || `${Deno.env.get("HOME") ?? "/tmp"}/.cache`;
  return `${xdg}/kopf-deno/control-plane`;
}

/** The file that names the run directory of the control plane `up` started last. */
export function currentPointerPath(): string {
  return `${cacheRoot()}/current`;
}

/**
 * Starts etcd, kube-apiserver and (by default) kube-controller-manager, detached so that they
 * outlive the calling process, and resolves once `/readyz` answers 200 to the admin certificate
 * and namespace `default` exists. On failure, whatever was started is stopped again and the run
 * directory is kept for its logs.
 *
 * @example Start, use, stop
 * ```ts ignore
 * const plane = await startControlPlane({ log: console.error });
 * const kubeconfig = await Deno.readTextFile(plane.kubeconfigPath);
 * await plane.stop();
 * ```
 */
export async function startControlPlane(options: StartOptions = {}): Promise<ControlPlane> {
  const began = performance.now();
  const say = options.log ?? (() => {});
  const log = (line: string) =>
    say(`control-plane: ${line} (${((performance.now() - began) / 1000).toFixed(1)} s)`);
  await requireOpenssl();
  const binDir = options.binDir ?? await buildBinaries();
  for (const name of COMPONENTS) await requireExecutable(`${binDir}/${name}`);

  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "kopf-control-plane-" });
  await Deno.mkdir(dir, { recursive: true });
  if (await exists(`${dir}/state.json`)) {
    throw new ControlPlaneError(`Cannot start in "${dir}": it holds a control plane; run down`);
  }
  const shm = await isDirectory("/dev/shm") ? "/dev/shm" : dir;
  const [etcdClient, etcdPeer, apiserver] = freePorts(3) as [number, number, number];
  const state: State = {
    version: (await Deno.readTextFile(VERSION_FILE)).trim(),
    dir,
    binDir,
    etcdDataDir: `${shm}/kopf-control-plane-etcd-${crypto.randomUUID().slice(0, 8)}`,
    server: `https://127.0.0.1:${apiserver}`,
    kubeconfigPath: `${dir}/kubeconfig`,
    ports: { etcdClient, etcdPeer, apiserver },
    logs: { etcd: "", "kube-apiserver": "", "kube-controller-manager": "" },
    apiserverArgs: [...(options.apiserverArgs ?? [])],
    startedAt: new Date().toISOString(),
  };
  for (const name of COMPONENTS) state.logs[name] = `${dir}/${name}.log`;
  await writeJson(`${dir}/state.json`, state); // lets `down` clean up a half-started plane
  const run: Run = { state, pids: {}, signal: options.signal, log };
  try {
    const pki = await createCertificates(`${dir}/pki`);
    log(`certificates created in ${dir}/pki`);
    await startEtcd(run);
    log(`etcd ready on 127.0.0.1:${etcdClient}`);
    await startApiserver(run, pki, options.readyTimeoutSeconds ?? READY_TIMEOUT_SECONDS);
    await Deno.writeTextFile(state.kubeconfigPath, kubeconfigText(state.server, pki), {
      mode: 0o600,
    });
    if (options.controllerManager ?? true) {
      await startControllerManager(run);
      log("kube-controller-manager running, garbage collector synced");
    }
  } catch (error) {
    await stopProcesses(run.pids);
    await Deno.remove(state.etcdDataDir, { recursive: true }).catch(() => {});
    await Deno.remove(`${dir}/state.json`).catch(() => {});
    await Deno.remove(`${dir}/pids.json`).catch(() => {});
    if (error instanceof ControlPlaneError) throw error;
    const message = options.signal?.aborted
      ? "Start aborted; stopped what was started"
      : `Cannot start the control plane: ${errorText(error)}`;
    throw new ControlPlaneError(`${message}; the logs are in "${dir}"`, undefined, {
      cause: error,
    });
  }
  await writeJson(`${dir}/state.json`, { ...state, readyAt: new Date().toISOString() });
  log(`ready; logs in ${dir}`);
  const { kubeconfigPath, server } = state;
  return { kubeconfigPath, server, dir, pids: { ...run.pids }, stop: () => stopControlPlane(dir) };
}

/**
 * Stops the control plane in `dir` — kube-controller-manager, kube-apiserver, then etcd; each
 * SIGTERM, then SIGKILL after 10 s — and removes `dir` and the etcd data directory. Idempotent.
 * A PID is only signalled while it still runs the binary it was recorded for.
 */
export async function stopControlPlane(dir: string): Promise<void> {
  const state = await readJson<State>(`${dir}/state.json`);
  await stopProcesses(await readJson<Pids>(`${dir}/pids.json`) ?? {});
  if (state) await Deno.remove(state.etcdDataDir, { recursive: true }).catch(ignoreNotFound);
  await Deno.remove(dir, { recursive: true }).catch(ignoreNotFound);
  const pointer = currentPointerPath();
  if ((await Deno.readTextFile(pointer).catch(() => "")).trim() === dir) {
    await Deno.remove(pointer).catch(ignoreNotFound);
  }
}

/** Whether `pid` is alive (zombies are not) and, with `component`, runs that binary. */
export function isRunning(pid: number, component?: Component): boolean {
  let stat: string;
  let argv0: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    argv0 = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0")[0] ?? "";
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound) || existsSync("/proc/self/stat")) return false;
    return isRunningByPs(pid, component); // no procfs, e.g. macOS
  }
  const processState = stat.charAt(stat.lastIndexOf(")") + 2); // the comm may hold ")"
  if (processState === "Z" || processState === "X") return false;
  return !component || argv0.split("/").pop() === component;
}

function isRunningByPs(pid: number, component?: Component): boolean {
  const output = new Deno.Command("ps", { args: ["-o", "stat=,comm=", "-p", String(pid)] })
    .outputSync();
  const [processState = "", comm = ""] = new TextDecoder().decode(output.stdout).trim().split(
    /\s+/,
  );
  if (!output.success || processState.startsWith("Z")) return false;
  return !component || comm.split("/").pop() === component;
}

/** What {@linkcode inspectControlPlane} finds: `state.json`, liveness and `/readyz`. */
export interface Inspection {
  readonly state: State;
  readonly processes: Partial<Record<Component, { pid: number; running: boolean }>>;
  /** `200 ok`, another status and body, or `unreachable: <error>`. */
  readonly readyz: string;
  /** Every recorded process runs, and `/readyz` answered 200 to the admin certificate. */
  readonly ready: boolean;
}

/** Looks at the control plane in `dir` without changing it; null if there is none. */
export async function inspectControlPlane(dir: string): Promise<Inspection | null> {
  const state = await readJson<State>(`${dir}/state.json`).catch(() => null);
  if (!state) return null;
  const pids = await readJson<Pids>(`${dir}/pids.json`).catch(() => null) ?? {};
  const processes: Inspection["processes"] = {};
  for (const name of COMPONENTS) {
    const pid = pids[name];
    if (pid !== undefined) processes[name] = { pid, running: isRunning(pid, name) };
  }
  let readyz: string;
  try {
    const client = Deno.createHttpClient({
      caCerts: [await Deno.readTextFile(`${dir}/pki/ca.crt`)],
      cert: await Deno.readTextFile(`${dir}/pki/admin.crt`),
      key: await Deno.readTextFile(`${dir}/pki/admin.key`),
    });
    try {
      const signal = AbortSignal.timeout(PROBE_TIMEOUT_SECONDS * 1000);
      const response = await fetch(`${state.server}/readyz`, { client, signal });
      readyz = `${response.status} ${(await response.text()).trim()}`;
    } finally {
      client.close();
    }
  } catch (error) {
    readyz = `unreachable: ${errorText(error)}`;
  }
  const running = Object.values(processes).every((process) => process.running);
  return { state, processes, readyz, ready: running && readyz.startsWith("200 ") };
}

/**
 * Stops kube-apiserver of the control plane in `dir` (SIGTERM, then SIGKILL) and leaves etcd and
 * the rest running: tests see how clients live through an API server that goes away. Start it
 * again with {@linkcode startApiserverAgain}.
 *
 * @example An outage of two seconds
 * ```ts ignore
 * await stopApiserver(plane.dir);
 * await new Promise((resolve) => setTimeout(resolve, 2000));
 * await startApiserverAgain(plane.dir);
 * ```
 */
export async function stopApiserver(dir: string): Promise<void> {
  const pids = await readJson<Pids>(`${dir}/pids.json`) ?? {};
  const pid = pids["kube-apiserver"];
  if (pid !== undefined) await terminate(pid, "kube-apiserver");
}

/**
 * Starts kube-apiserver again in `dir` with the same port, certificates, etcd and flags, and
 * resolves once `/readyz` answers 200. Its log goes on in `<dir>/kube-apiserver.log`.
 */
export async function startApiserverAgain(
  dir: string,
  options: { readyTimeoutSeconds?: number; signal?: AbortSignal } = {},
): Promise<void> {
  const state = await readJson<State>(`${dir}/state.json`);
  if (!state) throw new ControlPlaneError(`Cannot restart in "${dir}": no control plane there`);
  const pids = await readJson<Pids>(`${dir}/pids.json`) ?? {};
  const pid = pids["kube-apiserver"];
  if (pid !== undefined && isRunning(pid, "kube-apiserver")) {
    throw new ControlPlaneError(`Cannot start kube-apiserver in "${dir}": it is running`);
  }
  const pki = await loadCertificates(`${dir}/pki`);
  const run: Run = { state, pids, signal: options.signal, log: () => {} };
  await startApiserver(run, pki, options.readyTimeoutSeconds ?? READY_TIMEOUT_SECONDS);
}

// --- the three processes ---

/** One start in progress: what has been started so far, for cleanup on failure. */
interface Run {
  readonly state: State;
  readonly pids: Pids;
  readonly signal: AbortSignal | undefined;
  readonly log: (line: string) => void;
}

async function startEtcd(run: Run): Promise<void> {
  const { etcdClient, etcdPeer } = run.state.ports;
  const pid = await spawn(run, "etcd", [
    "--name=kopf",
    `--data-dir=${run.state.etcdDataDir}`,
    `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
    `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
    `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
    `--initial-cluster=kopf=http://127.0.0.1:${etcdPeer}`,
    "--unsafe-no-fsync=true",
    "--log-level=warn",
  ]);
  await waitUntil(run, "etcd", pid, ETCD_TIMEOUT_SECONDS, async () => {
    const signal = AbortSignal.timeout(PROBE_TIMEOUT_SECONDS * 1000);
    const response = await fetch(`http://127.0.0.1:${etcdClient}/health`, { signal });
    return response.ok && (await response.text()).includes('"true"');
  });
}

async function startApiserver(run: Run, pki: Pki, timeoutSeconds: number): Promise<void> {
  const { dir, server, ports } = run.state;
  const pid = await spawn(run, "kube-apiserver", [
    `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${ports.apiserver}`,
    // A loopback advertise address is refused unless the endpoint reconciler is off.
    "--advertise-address=127.0.0.1",
    "--endpoint-reconciler-type=none",
    `--tls-cert-file=${pki.apiserverCert}`,
    `--tls-private-key-file=${pki.apiserverKey}`,
    `--cert-dir=${dir}/kas`,
    `--client-ca-file=${pki.caCert}`,
    "--authorization-mode=RBAC",
    `--service-account-issuer=${server}`,
    `--service-account-key-file=${pki.saPub}`,
    `--service-account-signing-key-file=${pki.saKey}`,
    "--service-cluster-ip-range=10.0.0.0/24",
    "--allow-privileged=true",
    // Nothing creates the `default` ServiceAccount that this admission plugin demands.
    "--disable-admission-plugins=ServiceAccount",
    "--profiling=false",
    // Podtemplates bypass the watch cache, so tests can force real 410s by compacting etcd;
    // with the cache, kube-apiserver serves old resourceVersions from its own history.
    "--watch-cache-sizes=podtemplates#0",
    "--v=1",
    ...(run.state.apiserverArgs ?? []),
  ]);
  // Anonymous probes get 401/403 until RBAC is bootstrapped, so probe as the admin.
  const client = Deno.createHttpClient({
    caCerts: [pki.caPem],
    cert: pki.adminPem,
    key: pki.adminKeyPem,
  });
  const answers = async (path: string) => {
    const signal = AbortSignal.timeout(PROBE_TIMEOUT_SECONDS * 1000);
    const response = await fetch(`${server}${path}`, { client, signal });
    await response.body?.cancel();
    return response.status === 200;
  };
  try {
    try {
      await waitUntil(run, "kube-apiserver", pid, timeoutSeconds, () => answers("/readyz"));
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
      const signal = AbortSignal.timeout(PROBE_TIMEOUT_SECONDS * 1000);
      const verbose = await fetch(`${server}/readyz?verbose`, { client, signal })
        .then((response) => response.text(), (failure) => errorText(failure));
      throw new ControlPlaneError(
        `kube-apiserver was not ready within ${timeoutSeconds} s; see "${dir}/kube-apiserver.log"`,
        `GET /readyz?verbose:\n${verbose.trimEnd()}`,
      );
    }
    run.log(`kube-apiserver ready at ${server}`);
    const namespace = () => answers("/api/v1/namespaces/default");
    await waitUntil(run, "kube-apiserver", pid, NAMESPACE_TIMEOUT_SECONDS, namespace).catch(
      (error) => {
        if (!(error instanceof TimeoutError)) throw error;
        throw new ControlPlaneError(
          `Namespace "default" did not appear within ${NAMESPACE_TIMEOUT_SECONDS} s`,
        );
      },
    );
  } finally {
    client.close();
  }
}

async function startControllerManager(run: Run): Promise<void> {
  const start = (securePort: number) =>
    spawn(run, "kube-controller-manager", [
      `--kubeconfig=${run.state.kubeconfigPath}`,
      "--controllers=garbagecollector,namespace",
      "--leader-elect=false",
      "--use-service-account-credentials=false",
      "--bind-address=127.0.0.1",
      `--secure-port=${securePort}`, // 0: serve no HTTPS at all
      "--v=1",
    ]);
  const logPath = run.state.logs["kube-controller-manager"];
  let outcome = await controllerManagerSynced(run, await start(0));
  if (outcome === "exited" && /secure-port/.test(await readText(logPath))) {
    outcome = await controllerManagerSynced(run, await start(freePorts(1)[0]!));
  }
  if (outcome === "exited") throw await exitedError(run.state.dir, "kube-controller-manager");
  if (outcome === "unknown") {
    run.log(`kube-controller-manager runs, but its log shows no "${GC_SYNCED_MARKER}" yet`);
  }
}

/** Waits until kube-controller-manager has lived a moment and its garbage collector synced. */
async function controllerManagerSynced(
  run: Run,
  pid: number,
): Promise<"synced" | "exited" | "unknown"> {
  const began = Date.now();
  const logPath = run.state.logs["kube-controller-manager"];
  while (Date.now() - began < CONTROLLER_MANAGER_SYNC_TIMEOUT_SECONDS * 1000) {
    run.signal?.throwIfAborted();
    if (!isRunning(pid)) return "exited";
    const settled = Date.now() - began >= CONTROLLER_MANAGER_SETTLE_SECONDS * 1000;
    if (settled && (await readText(logPath)).includes(GC_SYNCED_MARKER)) return "synced";
    await sleep(POLL_INTERVAL_MS);
  }
  return isRunning(pid) ? "unknown" : "exited";
}

// Each binary runs under its own small `sh` in a new session (setsid): it outlives the CLI, the
// terminal and CI's process groups, and its `sh` reaps it on exit, so no `etcd` or `kube-*`
// zombie remains even where PID 1 does not reap orphans. The `sh` records PID and exit code.
const SPAWN_SCRIPT = `pidfile=$1; log=$2; shift 2
supervise='"$@" & echo $! > "$0"; wait $!; echo $? > "$0.exit"'
if command -v setsid >/dev/null 2>&1; then
  setsid -f sh -c "$supervise" "$pidfile" "$@" >> "$log" 2>&1 < /dev/null
else
  nohup sh -c "$supervise" "$pidfile" "$@" >> "$log" 2>&1 < /dev/null &
fi`;

/** Starts `<binDir>/<name>` detached, logging to `<dir>/<name>.log`; records its PID. */
async function spawn(run: Run, name: Component, args: string[]): Promise<number> {
  const { dir, binDir } = run.state;
  const pidFile = `${dir}/${name}.pid`;
  await Deno.remove(pidFile).catch(ignoreNotFound);
  await Deno.remove(`${pidFile}.exit`).catch(ignoreNotFound);
  const output = await new Deno.Command("sh", {
    args: ["-c", SPAWN_SCRIPT, "sh", pidFile, run.state.logs[name], `${binDir}/${name}`, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new ControlPlaneError(`Cannot start ${name}: ${decode(output.stderr)}`);
  }
  const deadline = Date.now() + PIDFILE_TIMEOUT_SECONDS * 1000;
  while (Date.now() < deadline) {
    const text = await readText(pidFile);
    if (text.endsWith("\n")) {
      run.pids[name] = Number(text.trim());
      await writeJson(`${dir}/pids.json`, run.pids);
      return run.pids[name];
    }
    await sleep(POLL_INTERVAL_MS / 5);
  }
  throw new ControlPlaneError(`Cannot start ${name}: no PID in "${pidFile}"`);
}

class TimeoutError extends Error {}

/** Polls `probe` until it is true; fails early with the log tail when `pid` exits. */
async function waitUntil(
  run: Run,
  name: Component,
  pid: number,
  timeoutSeconds: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  while (Date.now() < deadline) {
    run.signal?.throwIfAborted();
    if (!isRunning(pid)) throw await exitedError(run.state.dir, name);
    if (await probe().catch(() => false)) return;
    await sleep(POLL_INTERVAL_MS);
  }
  throw new TimeoutError(`Not ready within ${timeoutSeconds} s`);
}

async function exitedError(dir: string, name: Component): Promise<ControlPlaneError> {
  await sleep(POLL_INTERVAL_MS * 2); // for the supervising `sh` to write the exit code
  const code = (await readText(`${dir}/${name}.pid.exit`)).trim();
  const logPath = `${dir}/${name}.log`;
  const tail = (await readText(logPath)).trimEnd().split("\n").slice(-LOG_TAIL_LINES);
  return new ControlPlaneError(
    `${name} exited during start${code ? ` with code ${code}` : ""}; its log is "${logPath}"`,
    `Last ${LOG_TAIL_LINES} lines of ${logPath}:\n${tail.join("\n")}`,
  );
}

async function stopProcesses(pids: Pids): Promise<void> {
  for (const name of [...COMPONENTS].reverse()) {
    const pid = pids[name];
    if (pid !== undefined) await terminate(pid, name);
  }
}

async function terminate(pid: number, name: Component): Promise<void> {
  if (!isRunning(pid, name)) return; // gone, or the PID was reused by something else
  const escalation = [["SIGTERM", STOP_TIMEOUT_SECONDS], ["SIGKILL", KILL_TIMEOUT_SECONDS]];
  for (const [signal, seconds] of escalation as [Deno.Signal, number][]) {
    try {
      Deno.kill(pid, signal);
    } catch {
      return; // exited in between
    }
    const deadline = Date.now() + seconds * 1000;
    while (Date.now() < deadline) {
      if (!isRunning(pid)) return;
      await sleep(POLL_INTERVAL_MS);
    }
  }
  throw new ControlPlaneError(`Cannot stop ${name} (PID ${pid}): it survived SIGKILL`);
}

// --- certificates and kubeconfig ---

interface Pki {
  caCert: string;
  apiserverCert: string;
  apiserverKey: string;
  saKey: string;
  saPub: string;
  caPem: string;
  adminPem: string;
  adminKeyPem: string;
}

const LEAF = "basicConstraints=critical,CA:FALSE\n" +
  "keyUsage=critical,digitalSignature,keyEncipherment\n" +
  "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n";
const EXTENSIONS = {
  ca:
    "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n" +
    "subjectKeyIdentifier=hash\n",
  apiserver: LEAF + "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
  admin: LEAF + "extendedKeyUsage=clientAuth\n",
};

/** A CA, the apiserver serving pair, the admin client pair (system:masters), the SA key pair. */
async function createCertificates(pki: string): Promise<Pki> {
  await Deno.mkdir(pki, { recursive: true, mode: 0o700 });
  const run = (command: string) => openssl(pki, command);
  const sign = `-days ${CERT_VALIDITY_DAYS} -set_serial`;
  const serial = () => `0x${crypto.randomUUID().replaceAll("-", "")}`;
  for (const [name, text] of Object.entries(EXTENSIONS)) {
    await Deno.writeTextFile(`${pki}/${name}.ext`, text);
  }
  await Promise.all(
    ["ca", "apiserver", "admin", "sa"].map((name) =>
      run(`genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ${name}.key`)
    ),
  );
  await run("req -new -key ca.key -subj /O=kopf/CN=kopf-control-plane-ca -out ca.csr");
  await run(`x509 -req -in ca.csr -signkey ca.key ${sign} ${serial()} -extfile ca.ext -out ca.crt`);
  const issue = async (name: string, subject: string) => {
    await run(`req -new -key ${name}.key -subj ${subject} -out ${name}.csr`);
    await run(
      `x509 -req -in ${name}.csr -CA ca.crt -CAkey ca.key ${sign} ${serial()} ` +
        `-extfile ${name}.ext -out ${name}.crt`,
    );
  };
  await Promise.all([
    issue("apiserver", "/CN=localhost"),
    issue("admin", "/O=system:masters/CN=admin"),
    run("pkey -in sa.key -pubout -out sa.pub"),
  ]);
  return await loadCertificates(pki);
}

/** The file names and PEM texts of the certificates that `createCertificates` made in `pki`. */
async function loadCertificates(pki: string): Promise<Pki> {
  return {
    caCert: `${pki}/ca.crt`,
    apiserverCert: `${pki}/apiserver.crt`,
    apiserverKey: `${pki}/apiserver.key`,
    saKey: `${pki}/sa.key`,
    saPub: `${pki}/sa.pub`,
    caPem: await Deno.readTextFile(`${pki}/ca.crt`),
    adminPem: await Deno.readTextFile(`${pki}/admin.crt`),
    adminKeyPem: await Deno.readTextFile(`${pki}/admin.key`),
  };
}

/** Runs `openssl <command>` in `cwd`; split on spaces, which only our file names are free of. */
async function openssl(cwd: string, command: string): Promise<void> {
  const args = command.split(" ");
  const output = await new Deno.Command("openssl", { args, cwd, stdin: "null", stderr: "piped" })
    .output();
  if (!output.success) {
    throw new ControlPlaneError(
      `Cannot create certificates: "openssl ${args[0]}" exited with code ${output.code}`,
      decode(output.stderr),
    );
  }
}

function kubeconfigText(server: string, pki: Pki): string {
  return `# Written by tools/control-plane/cluster.ts; removed by \`down\`.
apiVersion: v1
kind: Config
clusters:
  - name: kopf-control-plane
    cluster:
      server: ${server}
      certificate-authority-data: ${btoa(pki.caPem)}
users:
  - name: admin
    user:
      client-certificate-data: ${btoa(pki.adminPem)}
      client-key-data: ${btoa(pki.adminKeyPem)}
contexts:
  - name: kopf-control-plane
    context:
      cluster: kopf-control-plane
      user: admin
current-context: kopf-control-plane
`;
}

// --- prerequisites and small helpers ---

async function requireOpenssl(): Promise<void> {
  try {
    await new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .output();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new ControlPlaneError(
      'Cannot create certificates: "openssl" is not installed (apt-get install -y openssl)',
    );
  }
}

/** Runs build.sh: a no-op when the binaries are cached; its progress goes to our stderr. */
async function buildBinaries(): Promise<string> {
  const output = await new Deno.Command("bash", {
    args: [BUILD_SCRIPT],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) {
    throw new ControlPlaneError(
      `Cannot build the control plane: "${BUILD_SCRIPT}" exited with code ${output.code}`,
    );
  }
  return decode(output.stdout).split("\n").pop()!.trim();
}

async function requireExecutable(path: string): Promise<void> {
  const info = await Deno.stat(path).catch(() => null);
  if (!info?.isFile || ((info.mode ?? 0o111) & 0o111) === 0) {
    throw new ControlPlaneError(`Cannot start the control plane: "${path}" is not executable`);
  }
}

/** Distinct free loopback ports: every listener stays open until all ports are chosen. */
function freePorts(count: number): number[] {
  const listeners = Array.from({ length: count }, () => Deno.listen({ hostname: "127.0.0.1" }));
  const ports = listeners.map((listener) => listener.addr.port);
  for (const listener of listeners) listener.close();
  return ports;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function decode(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes).trim();
}

function readText(path: string): Promise<string> {
  return Deno.readTextFile(path).catch(() => "");
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

function existsSync(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return await Deno.stat(path).then((info) => info.isDirectory, () => false);
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await Deno.writeTextFile(`${path}.tmp`, JSON.stringify(value, null, 2) + "\n");
  await Deno.rename(`${path}.tmp`, path);
}

async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

function ignoreNotFound(error: unknown): void {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// --- CLI ---

const usage = () =>
  `Usage:
  cluster.ts up [--dir DIR] [--bin-dir DIR] [--no-controller-manager] [--timeout SECONDS]
  cluster.ts down [--dir DIR | DIR]      (default: the last started, as named in ${currentPointerPath()})
  cluster.ts status [--dir DIR | DIR]`;

async function resolveDir(arg: string | undefined): Promise<string | null> {
  return arg || (await readText(currentPointerPath())).trim() || null;
}

/** `down` and `status` name the plane as `up` does (`--dir DIR`), or as a bare DIR. */
function dirArgument(args: string[]): string | undefined {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { dir: { type: "string" } }, allowPositionals: true });
  } catch {
    throw new ControlPlaneError(`cannot read "${args.join(" ")}": give --dir DIR or DIR`);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1 || (values.dir && positionals.length)) {
    throw new ControlPlaneError(
      `one directory at most, as --dir DIR or DIR: got ${args.join(" ")}`,
    );
  }
  return values.dir ?? positionals[0];
}

async function up(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      dir: { type: "string" },
      "bin-dir": { type: "string" },
      "no-controller-manager": { type: "boolean" },
      timeout: { type: "string" },
    },
  });
  const aborter = new AbortController();
  const abort = () => aborter.abort();
  Deno.addSignalListener("SIGINT", abort);
  Deno.addSignalListener("SIGTERM", abort);
  try {
    const options: StartOptions = { log: (line) => console.error(line), signal: aborter.signal };
    if (values.dir) options.dir = values.dir;
    if (values["bin-dir"]) options.binDir = values["bin-dir"];
    if (values["no-controller-manager"]) options.controllerManager = false;
    if (values.timeout) options.readyTimeoutSeconds = Number(values.timeout);
    const previous = await resolveDir(undefined);
    if (previous && (await inspectControlPlane(previous))?.ready) {
      console.error(`control-plane: another one still runs in "${previous}"; down stops it`);
    }
    const plane = await startControlPlane(options);
    await Deno.mkdir(cacheRoot(), { recursive: true });
    await Deno.writeTextFile(currentPointerPath(), plane.dir + "\n");
    console.log(`export KUBECONFIG=${plane.kubeconfigPath}`);
  } finally {
    Deno.removeSignalListener("SIGINT", abort);
    Deno.removeSignalListener("SIGTERM", abort);
  }
}

async function down(args: string[]): Promise<void> {
  const dir = await resolveDir(dirArgument(args));
  if (!dir || !await exists(dir)) {
    console.error(`control-plane: nothing to stop ${dir ? `in "${dir}"` : "(none is current)"}`);
    return;
  }
  await stopControlPlane(dir);
  console.error(`control-plane: stopped; removed ${dir}`);
}

/** Prints state.json plus liveness and `/readyz`; exits 0 only when ready. */
async function status(args: string[]): Promise<number> {
  const dir = await resolveDir(dirArgument(args));
  const inspection = dir ? await inspectControlPlane(dir) : null;
  if (!inspection) {
    console.error(`control-plane: no control plane ${dir ? `in "${dir}"` : "is current"}`);
    return 1;
  }
  console.log(JSON.stringify(inspection, null, 2));
  return inspection.ready ? 0 : 1;
}

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "up":
        await up(rest);
        return 0;
      case "down":
        await down(rest);
        return 0;
      case "status":
        return await status(rest);
      default:
        console.error(usage());
        return 2;
    }
  } catch (error) {
    console.error(`control-plane: ${errorText(error)}`);
    if (error instanceof ControlPlaneError) {
      if (error.details) console.error(error.details);
    } else if (error instanceof Error && error.stack) {
      console.error(error.stack);
    }
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
