/**
 * What persisting results and caching cost: one flow mapping N tasks over an in-process server
 * (embedded SQLite), four ways, and the same N results written to and read from an S3-compatible
 * server (s3rver, on this machine).
 *
 *   npm run bench:results -- [--tasks 500]
 *
 * - plain: results inline in the state (client-side orchestration, the default), and the same
 *   with every state a `set_state` (the path cached tasks take);
 * - persisted: `persistResult: true, cachePolicy: NONE`: one record file per task (still client-side);
 * - cache miss: `cachePolicy: INPUTS`, empty storage: a lookup, a record, and the server path;
 * - cache hit: the same again: every task "Cached" from its record, none runs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import { startServer } from "@baton/server";
import { CachePolicies, configure, flow, S3Bucket, task } from "@baton/sdk";

const argv = process.argv.slice(2);
const tasks = Number(argv[argv.indexOf("--tasks") + 1] ?? 500) || 500;
const dir = mkdtempSync(join(tmpdir(), "baton-bench-results-"));
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const server = await startServer({ config: { port: 0, host: "127.0.0.1", databaseUrl: `sqlite:${join(dir, "baton.db")}`, logLevel: "silent" }, services: false });
configure({ apiUrl: server.apiUrl, consoleLogs: false, localStoragePath: join(dir, "storage") });

const body = (i: number) => ({ i, squares: Array.from({ length: 20 }, (_, k) => (i + k) ** 2) });
const variants = {
  plain: task({ name: "plain" }, function plain(i: number) {
    return body(i);
  }),
  persisted: task({ name: "persisted", persistResult: true, cachePolicy: CachePolicies.NONE }, function persisted(i: number) {
    return body(i);
  }),
  cached: task({ name: "cached", cachePolicy: CachePolicies.INPUTS.add(CachePolicies.TASK_SOURCE) }, function cached(i: number) {
    return body(i);
  }),
};

async function timeMap(label: string, t: (typeof variants)[keyof typeof variants]): Promise<void> {
  const inputs = Array.from({ length: tasks }, (_, i) => i);
  const started = performance.now();
  await flow({ name: `bench-${label}` }, async function benchFlow() {
    return Promise.all(t.map(inputs).map((f) => f.result()));
  })();
  const seconds = (performance.now() - started) / 1000;
  console.log(`${label.padEnd(20)} ${tasks} tasks in ${seconds.toFixed(2)} s  (${(tasks / seconds).toFixed(0)} tasks/s)`);
}

console.log(`node ${process.version}, ${tasks} tasks per flow, in-process server on SQLite, LocalFileSystem storage`);
await timeMap("plain", variants.plain);
configure({ clientSideTaskOrchestration: false });
await timeMap("plain, server path", variants.plain);
configure({ clientSideTaskOrchestration: null });
await timeMap("persisted", variants.persisted);
await timeMap("cache miss", variants.cached);
await timeMap("cache hit", variants.cached);

const s3Dir = mkdtempSync(join(tmpdir(), "baton-bench-s3-"));
const s3 = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory: s3Dir, configureBuckets: [{ name: "bench", configs: [] }] });
const { port } = await s3.run();
const bucket = new S3Bucket({ bucket: "bench", endpointUrl: `http://127.0.0.1:${port}`, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
const record = Buffer.from(JSON.stringify({ metadata: {}, result: JSON.stringify(body(1)) }));
const n = Math.min(tasks, 200);
let t0 = performance.now();
for (let i = 0; i < n; i++) await bucket.writePath(`k${i}`, record);
const writeMs = (performance.now() - t0) / n;
t0 = performance.now();
for (let i = 0; i < n; i++) await bucket.readPath(`k${i}`);
const readMs = (performance.now() - t0) / n;
console.log(`s3 (s3rver)  ${n} records, one at a time: write ${writeMs.toFixed(1)} ms, read ${readMs.toFixed(1)} ms each`);

await s3.close();
configure({ apiUrl: null, consoleLogs: null, localStoragePath: null });
await server.close();
rmSync(dir, { recursive: true, force: true });
rmSync(s3Dir, { recursive: true, force: true });
