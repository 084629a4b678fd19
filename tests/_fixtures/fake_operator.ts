// For operators run in this process against the fake API server: a connection that needs no
// credentials, and waiting for a condition with a deadline instead of sleeping.

import * as connections from "../../lib/k8s/connections.ts";

/** A connection to a server that needs no credentials (the fake API server). */
export function plainConnection(server: string): connections.Connection {
  return {
    server,
    caCerts: [],
    insecureSkipTlsVerify: false,
    namespace: "default",
    source: "the fake API server",
    authenticator: connections.anonymous,
  };
}

/** Resolves once `condition` holds, polling every 10 ms; fails after `ms` naming `what`. */
export async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
