// The chaos command line and its small pure helpers: profiles, durations, refused combinations,
// the seeded random source, and the RSS slope of the soak.

import { deepEqual, equal, throws } from "node:assert/strict";
import * as memory from "../../../bench/chaos/memory.ts";
import * as options from "../../../bench/chaos/options.ts";
import * as randoms from "../../../bench/chaos/random.ts";

Deno.test("the default chaos run is 30 minutes of every fault with 2 replicas", () => {
  const chosen = options.parseOptions(["--seed", "42"]);
  equal(chosen.mode, "chaos");
  equal(chosen.durationSeconds, 1800);
  equal(chosen.seed, 42);
  deepEqual(chosen.faults, options.FAULTS);
  equal(chosen.replicas, 2);
  deepEqual(chosen.leaseTimings, [15, 10, 2]);
});

Deno.test("--smoke is 3 minutes with short Lease timings; without leader one replica", () => {
  const smoke = options.parseOptions(["--smoke"]);
  equal(smoke.durationSeconds, 180);
  deepEqual(smoke.leaseTimings, [6, 4, 1]);
  const single = options.parseOptions(["--smoke", "--faults", "kill,crd"]);
  deepEqual(single.faults, ["kill", "crd"]);
  equal(single.replicas, 1);
});

Deno.test("--soak takes its duration, has no faults by default and refuses restarts", () => {
  const soak = options.parseOptions(["--soak", "1h"]);
  equal(soak.mode, "soak");
  equal(soak.durationSeconds, 3600);
  equal(soak.objects, 1000);
  deepEqual(soak.faults, []);
  equal(soak.warmUpSeconds, 600);
  throws(() => options.parseOptions(["--soak", "60m", "--faults", "kill"]), /RSS slope/);
  throws(() => options.parseOptions(["--soak", "60m", "--duration", "5m"]), /--soak takes/);
  throws(() => options.parseOptions(["--soak", "60m", "--smoke"]), /exclude each other/);
});

Deno.test("durations read as 90s, 30m, 1h30m or seconds; bad flags are one-line usage errors", () => {
  deepEqual(
    ["90s", "30m", "1h30m", "45"].map((d) => options.parseDuration(d, "--duration")),
    [90, 1800, 5400, 45],
  );
  throws(() => options.parseOptions(["--duration", "soon"]), options.UsageError);
  throws(() => options.parseOptions(["--faults", "kill,meteor"]), /comma-separated list/);
  throws(() => options.parseOptions(["--objects", "0"]), /whole number from 1/);
  throws(() => options.parseOptions(["--bogus"]), options.UsageError);
});

Deno.test("a seed replays the same random stream, and forks do not disturb each other", () => {
  const a = new randoms.Random(7);
  const b = new randoms.Random(7);
  deepEqual([a.next(), a.next()], [b.next(), b.next()]);
  deepEqual(a.shuffle([1, 2, 3, 4, 5]).sort(), [1, 2, 3, 4, 5]);
  const x = new randoms.Random(9);
  const fork = x.fork();
  const y = new randoms.Random(9);
  y.fork();
  equal(x.next(), y.next());
  equal(typeof fork.next(), "number");
});

Deno.test("the RSS slope is per hour over the samples after the warm-up, per replica's main process", () => {
  const MiB = 1024 * 1024;
  const hour = 3_600_000;
  const samples: memory.RssSample[] = [
    { at: 0, ident: "replica-0", pid: 1, rssBytes: 500 * MiB }, // warm-up: left out
    ...[1, 2, 3, 4].map((i) => ({
      at: (i * hour) / 4,
      ident: "replica-0",
      pid: 1,
      rssBytes: (100 + i * 0.25) * MiB, // +0.25 MiB every 15 minutes: 1 MiB/hour
    })),
    { at: hour, ident: "replica-0", pid: 2, rssBytes: 90 * MiB }, // a short-lived restart
  ];
  const [trend] = memory.trends(samples, hour / 8);
  equal(trend!.pid, 1);
  equal(trend!.samples, 4);
  equal(trend!.slopeMiBPerHour, 1);
  equal(trend!.peakMiB, 500);
  equal(memory.slope([[0, 1]]), undefined);
});
