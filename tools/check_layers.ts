// Checks the import direction of lib/ (docs/architecture.md): a room imports only from rooms
// below it, engines never import each other, lib/ never imports the public doors (mod.ts,
// cli.ts, testing.ts), and nothing in lib/ but kits/ is imported from kits/.
// Usage: deno run --allow-read=. tools/check_layers.ts   (exit 1 and one line per violation)

/** Rooms from the bottom up: a room may import from rooms listed before it, and itself. */
export const ROOMS = [
  "async",
  "structs",
  "persistence",
  "settings",
  "k8s",
  "causes",
  "registry",
  "handling",
  "engines",
  "processing",
  "reactor",
  "kits",
] as const;

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

/** Lists the violations in the files given as `{ path: source }` (paths relative to the repo). */
export function violations(files: Record<string, string>): string[] {
  const found: string[] = [];
  for (const [file, source] of Object.entries(files)) {
    const room = roomOf(file);
    if (room === undefined) continue;
    for (const match of source.matchAll(IMPORT)) {
      const spec = match[1] ?? match[2] ?? "";
      if (!spec.startsWith(".")) continue;
      const target = normalize(file, spec);
      if (!target.startsWith("lib/")) {
        found.push(
          `${file}: imports "${spec}" from outside lib/; lib/ must not import the public doors`,
        );
        continue;
      }
      const targetRoom = roomOf(target);
      if (targetRoom === undefined) {
        found.push(`${file}: imports "${spec}", which is in no room of lib/`);
        continue;
      }
      if (targetRoom === room) {
        if (room === "engines" && target !== file) {
          found.push(`${file}: imports "${spec}"; engines never import each other`);
        }
        continue;
      }
      if (ROOMS.indexOf(targetRoom) > ROOMS.indexOf(room)) {
        found.push(
          `${file}: imports "${spec}" from the higher room ${targetRoom}/; ${room}/ may import only from ${
            ROOMS.slice(0, ROOMS.indexOf(room)).join(", ") || "nothing"
          }`,
        );
      }
    }
  }
  return found;
}

function roomOf(file: string): (typeof ROOMS)[number] | undefined {
  const match = /^lib\/([^/]+)\//.exec(file);
  return ROOMS.find((r) => r === match?.[1]);
}

function normalize(from: string, spec: string): string {
  const parts = from.split("/").slice(0, -1);
  for (const piece of spec.split("/")) {
    if (piece === "..") parts.pop();
    else if (piece !== ".") parts.push(piece);
  }
  return parts.join("/");
}

async function collect(dir: string, into: Record<string, string>): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) await collect(path, into);
    else if (entry.name.endsWith(".ts")) into[path] = await Deno.readTextFile(path);
  }
}

if (import.meta.main) {
  const files: Record<string, string> = {};
  await collect("lib", files);
  const found = violations(files);
  for (const line of found) console.error(line);
  if (found.length > 0) Deno.exit(1);
  console.log(`check:layers: ${Object.keys(files).length} files in lib/, imports flow downwards`);
}
