import { execFileSync } from "node:child_process";
import { UsageError } from "./args.js";
import { sampleProcess } from "./proc-stats.js";

/**
 * How fast this machine is right now, as the CPU that starting an empty Node.js process
 * (`node -e 0`) costs, mean of `count` processes, with this process's environment plus `env`.
 * On the shared 2-core machines these benchmarks run on it has been seen anywhere between
 * ~75 and ~135 ms within one session, and every figure moves with it; printed beside the
 * results so that two runs can be compared.
 */
export function nodeStartCpuMs(count = 10, env: Record<string, string> = {}): number | null {
  const before = sampleProcess(process.pid)?.reapedChildrenCpuSeconds;
  if (before === undefined) return null;
  for (let i = 0; i < count; i++) execFileSync(process.execPath, ["-e", "0"], { stdio: "ignore", env: { ...process.env, ...env } });
  const after = sampleProcess(process.pid)?.reapedChildrenCpuSeconds;
  return after === undefined ? null : Math.round(((after - before) * 1000) / count);
}

/**
 * `NODE_EXTRA_CA_CERTS` when it names a file. Node.js 20 reads and parses that file as every
 * process starts, before any of the process's own code runs: with the ~140-certificate bundle
 * this machine's environment points it at, that is ~75 ms of CPU, two thirds of `node -e 0`.
 * A process worker starts a process per flow run, so the benchmarks can run them with the
 * variable set to "" (which Node.js reads as unset), as a user would through the deployment's
 * job variables `{"env": {"NODE_EXTRA_CA_CERTS": ""}}`.
 */
export function extraCaCerts(): string | undefined {
  const value = process.env["NODE_EXTRA_CA_CERTS"];
  return value === undefined || value === "" ? undefined : value;
}

/** The env a benchmark gives run processes for `--extra-ca-certs inherit|off`. */
export function extraCaCertsEnv(mode: "inherit" | "off"): Record<string, string> {
  return mode === "off" && extraCaCerts() !== undefined ? { NODE_EXTRA_CA_CERTS: "" } : {};
}

/** Parses `--extra-ca-certs`. */
export function parseExtraCaCerts(value: string): "inherit" | "off" {
  if (value === "inherit" || value === "off") return value;
  throw new UsageError(`--extra-ca-certs must be inherit or off, not ${value}`);
}
