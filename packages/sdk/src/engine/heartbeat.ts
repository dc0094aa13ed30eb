import { randomUUID } from "node:crypto";
import { FLOW_RUN_HEARTBEAT_EVENT, type EventCreate } from "@baton/core";
import type { BatonClient } from "../client.js";
import { currentSettings } from "../settings.js";

/** The flow run a heartbeat speaks for, as its event names it. */
export interface HeartbeatRun {
  id: string;
  name: string;
  flowId: string;
  flowName: string;
  deploymentId: string | null;
}

interface Tracked {
  run: HeartbeatRun;
  /** Told once, the first time a heartbeat for this run could not be sent. */
  onFailure: (error: unknown) => void;
  failed: boolean;
}

/**
 * Sends `prefect.flow-run.heartbeat` events for every flow run RUNNING in this process, to
 * one server, so its zombies service can tell a long run from a dead process. All runs share
 * one timer and one `POST /events` per beat (a flow with many subflows costs one request per
 * interval, not one per run). A run's first heartbeat goes out as soon as it is tracked: the
 * server only judges runs that have sent one, so a process that dies early is caught too.
 */
class HeartbeatSender {
  private readonly runs = new Map<string, Tracked>();
  /**
   * Runs tracked since the last beat, whose first heartbeat is due at once. Only they go in
   * that first request: sending every run's heartbeat whenever one run started made a process
   * serving thousands of runs send thousands of events per new run, back to back.
   */
  private readonly fresh = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private soon: NodeJS.Immediate | undefined;
  private sending = false;
  /** A beat asked for while one was on its way: sent when that one returns. */
  private again: "fresh" | "all" | undefined;

  constructor(
    private readonly client: BatonClient,
    intervalSeconds: number,
    private readonly onIdle: () => void,
  ) {
    this.timer = setInterval(() => this.send("all"), intervalSeconds * 1000);
    // Heartbeats alone must not keep a finished script alive.
    this.timer.unref();
  }

  track(tracked: Tracked): () => void {
    this.runs.set(tracked.run.id, tracked);
    this.fresh.add(tracked.run.id);
    // Runs starting together (a flow's subflows) share their first request.
    this.soon ??= setImmediate(() => {
      this.soon = undefined;
      this.send("fresh");
    });
    return () => {
      if (this.runs.get(tracked.run.id) !== tracked) return;
      this.runs.delete(tracked.run.id);
      this.fresh.delete(tracked.run.id);
      if (this.runs.size > 0) return;
      clearInterval(this.timer);
      if (this.soon) clearImmediate(this.soon);
      this.onIdle();
    };
  }

  /** `all`: every run's heartbeat (the interval's beat); `fresh`: the runs that have sent none yet. */
  private send(scope: "fresh" | "all"): void {
    // A slow server gets one request at a time rather than a pile of them.
    if (this.sending) {
      if (this.again !== "all") this.again = scope;
      return;
    }
    const batch = scope === "all" ? [...this.runs.values()] : [...this.fresh].flatMap((id) => this.runs.get(id) ?? []);
    // Either way the fresh runs are in this beat.
    this.fresh.clear();
    if (batch.length === 0) return;
    this.sending = true;
    const occurred = new Date().toISOString();
    this.client
      .request<void>("POST", "/events", batch.map((tracked) => heartbeatEvent(tracked.run, occurred)))
      .catch((error: unknown) => {
        for (const tracked of batch) {
          // Runs that finished meanwhile have nothing left to be warned about.
          if (tracked.failed || this.runs.get(tracked.run.id) !== tracked) continue;
          tracked.failed = true;
          tracked.onFailure(error);
        }
      })
      .finally(() => {
        this.sending = false;
        const next = this.again;
        this.again = undefined;
        if (next !== undefined) this.send(next);
      });
  }
}

function heartbeatEvent(run: HeartbeatRun, occurred: string): EventCreate {
  const related: Array<Record<string, string>> = [
    { "prefect.resource.id": `prefect.flow.${run.flowId}`, "prefect.resource.role": "flow", "prefect.resource.name": run.flowName },
  ];
  if (run.deploymentId) related.push({ "prefect.resource.id": `prefect.deployment.${run.deploymentId}`, "prefect.resource.role": "deployment" });
  return {
    id: randomUUID(),
    occurred,
    event: FLOW_RUN_HEARTBEAT_EVENT,
    resource: { "prefect.resource.id": `prefect.flow-run.${run.id}`, "prefect.resource.name": run.name },
    related,
    payload: {},
  };
}

const senders = new Map<BatonClient, HeartbeatSender>();

/**
 * Sends heartbeats for `run` every `flowRunHeartbeatSeconds` (the SDK setting, default 30 s)
 * until the returned function is called. A heartbeat that cannot be sent never fails the run;
 * `onFailure` hears about the first one.
 *
 * @example
 * const stop = beatWhileRunning(client, { id, name, flowId, flowName, deploymentId: null }, (e) => console.warn(e));
 * try { await work(); } finally { stop(); }
 */
export function beatWhileRunning(client: BatonClient, run: HeartbeatRun, onFailure: (error: unknown) => void): () => void {
  const intervalSeconds = currentSettings().flowRunHeartbeatSeconds;
  if (intervalSeconds <= 0) return () => undefined;
  let sender = senders.get(client);
  if (sender === undefined) {
    const created = new HeartbeatSender(client, intervalSeconds, () => {
      if (senders.get(client) === created) senders.delete(client);
    });
    senders.set(client, created);
    sender = created;
  }
  return sender.track({ run, onFailure, failed: false });
}
