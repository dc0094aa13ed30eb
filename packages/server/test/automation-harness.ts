import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { expect } from "vitest";
import type { Automation, FlowRun, ReceivedEvent } from "@baton/core";
import { SERVICE_NAMES, startServer, type Clock, type RunningServer, type ServerConfig, type TriggersService } from "@baton/server";
import { eventually, POSTGRES_URL, type DialectName } from "./harness.js";

/** Servers for automation tests: only the triggers service runs, on a clock the test moves, on a database that outlives a restart. */
/** A clock tests move forward; it starts at the real time so that events and firings agree. */
export class MovableClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(seconds: number): void {
    this.offsetMs += seconds * 1000;
  }
}

/** Only the triggers service runs, and its loop never comes round by itself: tests call its passes. */
const ONLY_TRIGGERS = Object.fromEntries(SERVICE_NAMES.map((name) => [name, { enabled: name === "triggers", loopSeconds: 3600 }])) as ServerConfig["services"];

export interface Db {
  config: Partial<ServerConfig>;
  cleanup(): Promise<void>;
}

let counter = 0;
export function database(dialect: DialectName): Db {
  if (dialect === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "baton-triggers-"));
    return { config: { databaseUrl: `sqlite:${join(dir, "baton.db")}` }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const schema = `t_triggers_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  return {
    config: { databaseUrl: POSTGRES_URL, databaseSchema: schema },
    cleanup: async () => {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    },
  };
}

export class Harness {
  private readonly emitted: string[] = [];

  constructor(
    readonly server: RunningServer,
    readonly clock: MovableClock,
  ) {}

  static async start(db: Db, clock = new MovableClock()): Promise<Harness> {
    const server = await startServer({ config: { port: 0, host: "127.0.0.1", logLevel: "silent", ...db.config, services: ONLY_TRIGGERS }, clock });
    return new Harness(server, clock);
  }

  get triggers(): TriggersService {
    return this.server.services.find((s) => s.name === "triggers") as TriggersService;
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const response = await fetch(`${this.server.apiUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  async automation(body: Record<string, unknown>): Promise<Automation> {
    const { status, body: created } = await this.call<Automation>("POST", "/automations/", body);
    expect(status, JSON.stringify(created)).toBe(201);
    return created;
  }

  async emit(event: string, resourceId: string, extra: Record<string, unknown> = {}): Promise<void> {
    const id = crypto.randomUUID();
    this.emitted.push(id);
    const response = await this.call("POST", "/events", [
      { id, occurred: this.clock.now().toISOString(), event, resource: { "prefect.resource.id": resourceId }, ...extra },
    ]);
    expect(response.status).toBe(204);
  }

  /** Waits until the engine has evaluated what it was given and every action has finished. */
  async settle(): Promise<void> {
    const engine = this.triggers.engine!;
    await eventually(() => this.emitted.every((id) => engine.hasSeen(id)), 5000, "the trigger engine to see every event sent");
    await engine.idle();
    await this.triggers.executor!.drain();
  }

  async deployment(name: string): Promise<string> {
    const flow = (await this.call<{ id: string }>("POST", "/flows/", { name: `flow-${name}` })).body;
    return (await this.call<{ id: string }>("POST", "/deployments/", { flow_id: flow.id, name, parameters: { reason: "none" } })).body.id;
  }

  async runsOf(deploymentId: string): Promise<FlowRun[]> {
    return (await this.call<FlowRun[]>("POST", "/flow_runs/filter", { flow_runs: { deployment_id: { any_: [deploymentId] } } })).body;
  }

  /** The stored events (the persister stores them shortly after they are published) once there are `count`. */
  async events(prefix: string, resourceId: string, count: number): Promise<ReceivedEvent[]> {
    let events: ReceivedEvent[] = [];
    await eventually(async () => {
      // `until` defaults to the real now, and the test clock may be ahead of it.
      const occurred = { since: new Date(0).toISOString(), until: new Date(this.clock.now().getTime() + 86_400_000).toISOString() };
      const page = await this.call<{ events: ReceivedEvent[] }>("POST", "/events/filter", { filter: { occurred, event: { prefix: [prefix] }, resource: { id: [resourceId] } }, limit: 50 });
      events = page.body.events;
      return events.length >= count;
    }, 5000, `${count} ${prefix} events`);
    return events;
  }
}

