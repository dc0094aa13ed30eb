import { statSync } from "node:fs";

/**
 * A note for the worker's log when flow run processes will inherit `NODE_EXTRA_CA_CERTS`.
 *
 * Node.js 20 reads and parses that file while each process starts, before any of the
 * process's own code runs. With a system bundle of ~140 certificates that was ~75 ms of CPU
 * per process on our 2-core benchmark machine, more than the rest of a run process's start;
 * a process worker pays it for every flow run. Flows that make TLS connections to services
 * signed by those authorities need it, so the worker does not drop it: it says what it costs
 * and how to turn it off (the job variable `env`, which the worker lays over its own
 * environment; Node.js reads "" as unset).
 */
export function extraCaCertsNote(env: NodeJS.ProcessEnv): string | undefined {
  const file = env["NODE_EXTRA_CA_CERTS"];
  if (file === undefined || file === "") return undefined;
  let size = "";
  try {
    size = `, ${Math.round(statSync(file).size / 1024)} KB`;
  } catch {
    // A file that cannot be read costs Node.js nothing but a warning; still worth saying.
  }
  return (
    `NODE_EXTRA_CA_CERTS is set (${file}${size}): Node.js parses that file every time a flow run process starts, ` +
    `which can cost more CPU than the rest of the process's start. If your flows do not need those certificates, ` +
    `set it to "" in the work pool's or deployment's job variables: {"env": {"NODE_EXTRA_CA_CERTS": ""}}`
  );
}
