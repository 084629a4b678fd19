// Lifecycles: which of the ready handlers run in this cycle, and in which order. Ours default
// to all at once (one cycle, one write for handlers that succeed); Kopf's defaults are offered
// for compatibility. Pure functions over handler ids and their retry counts.

/** Chooses the handlers to run now from the ready ones (in registration order). */
export type Lifecycle = <H extends { readonly id: string }>(
  handlers: readonly H[],
  retries: (id: string) => number,
) => H[];

/** Every ready handler in this cycle, in registration order: N handlers, one write. */
export const allAtOnce: Lifecycle = (handlers) => [...handlers];

/** One handler per cycle, in registration order. */
export const oneByOne: Lifecycle = (handlers) => handlers.slice(0, 1);

/** One handler per cycle, the least retried first: a failing one does not block the others (Kopf's default). */
export const asap: Lifecycle = (handlers, retries) =>
  [...handlers].sort((a, b) => retries(a.id) - retries(b.id)).slice(0, 1);

/** One random handler per cycle. */
export const randomized: Lifecycle = (handlers) =>
  handlers.length ? [handlers[Math.floor(Math.random() * handlers.length)]!] : [];

/** Every ready handler in this cycle, in random order. */
export const shuffled: Lifecycle = (handlers) => {
  const result = [...handlers];
  for (let i = result.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [result[i], result[j]] = [result[j]!, result[i]!];
  }
  return result;
};

/** The lifecycles by the names settings and the CLI use. */
export const LIFECYCLES = {
  all_at_once: allAtOnce,
  one_by_one: oneByOne,
  asap,
  randomized,
  shuffled,
} as const;

/** A lifecycle's name. */
export type LifecycleName = keyof typeof LIFECYCLES;
