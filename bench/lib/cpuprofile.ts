import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** The parts of V8's `.cpuprofile` JSON (as `node --cpu-prof` writes it) read here. */
interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }>;
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  name: string;
  ms: number;
  percent: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Time in the function itself, by function. */
  self: ProfileRow[];
  /** Self time by where the code lives: a package, Baton's own packages, node internals. */
  byArea: ProfileRow[];
  /** Time in the function and everything it called, for Baton's own functions. */
  batonInclusive: ProfileRow[];
}

export function summariseProfile(path: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const self = new Map<string, number>();
  const area = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i] is the gap before sample i; it is the usual attribution to that sample.
    const us = profile.timeDeltas[i] ?? 0;
    const leaf = byId.get(profile.samples[i]!);
    if (!leaf) continue;
    total += us;
    const key = frameName(leaf.callFrame);
    self.set(key, (self.get(key) ?? 0) + us);
    const where = areaOf(leaf.callFrame);
    area.set(where, (area.get(where) ?? 0) + us);
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const node = byId.get(id)!;
      if (!isBaton(node.callFrame.url)) continue;
      const name = frameName(node.callFrame);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + us);
    }
  }
  const rows = (m: Map<string, number>, n: number): ProfileRow[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: us / 1000, percent: total === 0 ? 0 : (100 * us) / total }));
  return { totalMs: total / 1000, self: rows(self, top), byArea: rows(area, 30), batonInclusive: rows(inclusive, top) };
}

export function formatProfile(summary: ProfileSummary): string {
  const table = (title: string, rows: ProfileRow[]): string =>
    [title, ...rows.map((r) => `  ${r.percent.toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.name}`)].join("\n");
  return [
    `Profile: ${(summary.totalMs / 1000).toFixed(1)} s sampled`,
    table("Self time by area:", summary.byArea),
    table("Top self-time functions:", summary.self),
    table("Baton functions, inclusive time:", summary.batonInclusive),
  ].join("\n\n");
}

function frameName(frame: { functionName: string; url: string; lineNumber: number }): string {
  const fn = frame.functionName || "(anonymous)";
  if (!frame.url) return fn;
  return `${fn}  ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
}

function shortUrl(url: string): string {
  const path = url.replace(/^file:\/\//, "");
  const nm = path.lastIndexOf("/node_modules/");
  if (nm >= 0) return path.slice(nm + "/node_modules/".length);
  const pk = path.indexOf("/packages/");
  if (pk >= 0) return path.slice(pk + 1);
  return path;
}

function isBaton(url: string): boolean {
  return /\/packages\/(server|core|sdk)\//.test(url) || /@baton\//.test(url);
}

/** Groups a frame: `(garbage collector)`, `node:http`, `fastify`, `kysely`, `@baton/server`... */
function areaOf(frame: { functionName: string; url: string }): string {
  const url = frame.url;
  if (!url) return frame.functionName.startsWith("(") ? frame.functionName : "(native)";
  if (url.startsWith("node:")) return url.split("/").slice(0, 2).join("/");
  if (isBaton(url)) {
    const m = /\/packages\/(\w+)\/(?:dist|src)\/(.+?)(?:\.js|\.ts)$/.exec(url);
    return m ? `@baton/${m[1]} ${m[2]!.split("/")[0]}` : "@baton";
  }
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "/node_modules/".length).split("/");
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  return url;
}

/** Prints the summary of the newest profile that the server process `pid` wrote to `dir` since `since` (ms). */
export function printProfile(dir: string, pid: number, since: number, what = "the server"): void {
  const files = readdirSync(dir)
    // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread.
    .filter((f) => f.endsWith(".cpuprofile") && f.includes(`.${pid}.0.`))
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).mtimeMs >= since);
  const file = files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (!file) {
    process.stderr.write(`no .cpuprofile for pid ${pid} in ${dir}\n`);
    return;
  }
  process.stdout.write(`\nCPU profile of ${what}: ${file}\n${formatProfile(summariseProfile(file))}\n`);
}
