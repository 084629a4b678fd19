// Settings of peering (which one of several operators is active): Kopf's peering objects with
// priorities, or a Kubernetes Lease (leader election as client-go does it). Plain data; the
// engines in engines/peering.ts and engines/leases.ts read it. No I/O.

/** How the operator coordinates with other instances of itself. */
export type PeeringMode = "kopf" | "lease";

/** Leader election through a `coordination.k8s.io/v1` Lease (client-go's algorithm). */
export interface LeaseSettings {
  /** The Lease's name; the peering name by default. */
  name: string | undefined;
  /** The Lease's namespace; the first served namespace, or `default` when cluster-wide. */
  namespace: string | undefined;
  /** How long a lease is valid after its last renewal (client-go: 15 s). */
  leaseDurationSeconds: number;
  /** The leader gives up leadership when it could not renew for this long (client-go: 10 s). */
  renewDeadlineSeconds: number;
  /** How often candidates try to acquire and the leader renews (client-go: 2 s). */
  retryPeriodSeconds: number;
  /** Give the lease up on a graceful stop, so that a candidate takes over at once. */
  releaseOnCancel: boolean;
}

/** Peering settings (Kopf's `settings.peering`, plus the Lease mode). */
export interface PeeringSettings {
  /** `kopf`: Kopf's KopfPeering/ClusterKopfPeering objects; `lease`: a Lease. */
  mode: PeeringMode;
  /** The peering object's name. */
  name: string;
  /** This operator's priority: the highest live one is active, lower ones pause. */
  priority: number;
  /**
   * Seconds a keep-alive is valid; keep-alives are sent every `lifetime - 5..10` s (at least
   * 1 s). 15 s here (Kopf: 60 s), so that a killed peer is taken over within 15 s; the
   * lifetime travels in each entry, so peers with other lifetimes understand each other.
   */
  lifetimeSeconds: number;
  /**
   * Peering must work: without the peering resource or object the operator stays paused.
   * Off (the default), it runs standalone when the peering resource is not there.
   */
  mandatory: boolean;
  /** Never coordinate: run as the only instance. */
  standalone: boolean;
  /**
   * Use ClusterKopfPeering (true) or a KopfPeering in every served namespace (false); derived
   * from how the operator serves namespaces unless set.
   */
  clusterwide: boolean | undefined;
  /** Do not log keep-alives. */
  stealth: boolean;
  /** The Lease mode's settings. */
  lease: LeaseSettings;
}

/** Kopf's defaults (peering object `default`, priority 0, auto-detected), lifetime 15 s. */
export function defaultPeering(): PeeringSettings {
  return {
    mode: "kopf",
    name: "default",
    priority: 0,
    lifetimeSeconds: 15,
    mandatory: false,
    standalone: false,
    clusterwide: undefined,
    stealth: false,
    lease: {
      name: undefined,
      namespace: undefined,
      leaseDurationSeconds: 15,
      renewDeadlineSeconds: 10,
      retryPeriodSeconds: 2,
      releaseOnCancel: true,
    },
  };
}
