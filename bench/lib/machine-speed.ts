import { execFileSync } from "node:child_process";
import { sampleProcess } from "./proc-stats.js";

/**
 * How fast this machine is right now, as the CPU that starting an empty Node.js process
 * (`node -e 0`) costs, mean of `count` processes. On the shared 2-core machines these
 * benchmarks run on it has been seen anywhere between ~75 and ~135 ms within one session,
 * and every figure moves with it; printed beside the results so that two runs can be compared.
 */
export function nodeStartCpuMs(count = 10): number | null {
  const before = sampleProcess(process.pid)?.reapedChildrenCpuSeconds;
  if (before === undefined) return null;
  for (let i = 0; i < count; i++) execFileSync(process.execPath, ["-e", "0"], { stdio: "ignore" });
  const after = sampleProcess(process.pid)?.reapedChildrenCpuSeconds;
  return after === undefined ? null : Math.round(((after - before) * 1000) / count);
}
