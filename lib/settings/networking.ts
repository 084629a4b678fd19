// Tunables of the Kubernetes client: request timeouts, retries, and watch-stream timing.
// Plain data with defaults; `k8s/` reads them, nothing here does I/O. Part of the
// operator-wide settings object (`OperatorSettings.networking` / `.watching`).

/** How single API requests are made and retried. */
export interface NetworkingSettings {
  /**
   * HTTP connections that requests take turns on (watches have their own): one HTTP/2
   * connection caps the requests in flight at the server's stream limit per connection.
   */
  connections: number;
  /** A non-watch request that takes longer is aborted (and retried if retries remain). */
  requestTimeoutSeconds: number;
  /** Retries of one request after connection errors, 429 and 5xx (not after 4xx). */
  retries: number;
  /** The first delay between retries, doubled after each failure up to the maximum. */
  retryInitialDelaySeconds: number;
  /** The largest delay between retries, and the cap on a server's `Retry-After`. */
  retryMaxDelaySeconds: number;
  /** The page size of paginated lists (`limit`). */
  listPageSize: number;
  /** How often a list restarts from scratch when its continue token expires (410). */
  listRestarts: number;
}

/** How watch streams are kept alive and resumed. */
export interface WatchingSettings {
  /** The lower bound of the random `timeoutSeconds` asked of the server per watch request. */
  serverTimeoutMinSeconds: number;
  /** The upper bound of that random timeout; randomising spreads reconnects over time. */
  serverTimeoutMaxSeconds: number;
  /**
   * No byte for this long means the stream is dead (a silent network drop): reconnect.
   * The API server sends a bookmark about every minute, so 70 s tolerates one missed one.
   */
  inactivityTimeoutSeconds: number;
  /** The first reconnect delay after a failure (doubles up to the maximum). */
  reconnectInitialDelaySeconds: number;
  /** The largest reconnect delay. */
  reconnectMaxDelaySeconds: number;
  /** Use a streaming list (`sendInitialEvents`) for the initial state, else list + watch. */
  watchList: boolean;
  /** A streaming list that does not finish its initial events in this time falls back to list + watch. */
  watchListTimeoutSeconds: number;
}

/** The defaults of the client's request handling. */
export function defaultNetworking(): NetworkingSettings {
  return {
    connections: 4,
    requestTimeoutSeconds: 60,
    retries: 6,
    retryInitialDelaySeconds: 0.25,
    retryMaxDelaySeconds: 30,
    listPageSize: 500,
    listRestarts: 3,
  };
}

/** The defaults of watching, close to client-go's reflector. */
export function defaultWatching(): WatchingSettings {
  return {
    serverTimeoutMinSeconds: 300,
    serverTimeoutMaxSeconds: 600,
    inactivityTimeoutSeconds: 70,
    reconnectInitialDelaySeconds: 0.8,
    reconnectMaxDelaySeconds: 30,
    watchList: false,
    watchListTimeoutSeconds: 60,
  };
}
