import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/**
 * How fast this machine is right now, as the CPU that starting an empty Node.js process
 * (`node -e 0`) costs, mean of `count` processes. On the shared 2-core machines these
 * benchmarks run on it has been seen anywhere between ~75 and ~135 ms within one session,
 * and every figure moves with it; printed beside the results so that two runs can be compared.
 */
export function nodeStartCpuMs(count = 10): number | null {
  const before = reapedChildrenCpuSeconds();
  if (before === null) return null;
  for (let i = 0; i < count; i++) execFileSync(process.execPath, ["-e", "0"], { stdio: "ignore" });
  const after = reapedChildrenCpuSeconds();
  return after === null ? null : Math.round(((after - before) * 1000) / count);
}

/** cutime + cstime of this process (CPU of children it has waited for), from /proc; null elsewhere. */
function reapedChildrenCpuSeconds(): number | null {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // cutime and cstime are fields 16 and 17 of the line, 14th and 15th after the name; USER_HZ is 100.
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return null;
  }
}
