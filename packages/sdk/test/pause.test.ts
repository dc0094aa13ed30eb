import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError, flow, pauseFlowRun, PauseTimeoutError, suspendFlowRun, getRunContext, type FlowRun } from "@baton/sdk";
import { z } from "@baton/core";
import { sleep, startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});

/** Waits until the run is PAUSED and returns it. */
async function whenPaused(find: () => string | undefined): Promise<FlowRun> {
  for (let i = 0; i < 200; i++) {
    const id = find();
    if (id) {
      const run = await t.client.readFlowRun(id);
      if (run.state?.type === "PAUSED") return run;
    }
    await sleep(50);
  }
  throw new Error("the run never paused");
}

function resume(id: string, runInput?: unknown) {
  return t.client.request<{ status: string; state: { type: string; name: string } | null; details: { reason?: string } }>(
    "POST",
    `/flow_runs/${id}/resume`,
    runInput === undefined ? {} : { run_input: runInput },
  );
}

describe("pauseFlowRun", () => {
  it("waits for a resume with input checked against its schema, and returns the input", async () => {
    let runId: string | undefined;
    const approve = flow(async function approve() {
      runId = getRunContext().flowRun?.id;
      const answer = await pauseFlowRun({ timeoutSeconds: 60, pollIntervalSeconds: 0.05, waitForInput: z.object({ approved: z.boolean(), by: z.string() }) });
      return answer.approved ? `approved by ${answer.by}` : "refused";
    });
    const outcome = approve.run();
    const paused = await whenPaused(() => runId);
    expect(paused.state?.name).toBe("Paused");
    expect(paused.state?.state_details.run_input_keyset).toEqual({ description: "paused-1-description", response: "paused-1-response", schema: "paused-1-schema" });

    // A wrong input is refused with the field named, and the run stays paused.
    const wrong = await resume(paused.id, { approved: "yes", by: "ada" }).catch((error: unknown) => error);
    expect(wrong).toBeInstanceOf(ApiError);
    expect((wrong as ApiError).status).toBe(422);
    expect((wrong as ApiError).detail).toContain("body.run_input.approved");
    expect((await t.client.readFlowRun(paused.id)).state?.type).toBe("PAUSED");

    const accepted = await resume(paused.id, { approved: true, by: "ada" });
    expect(accepted.status).toBe("ACCEPT");
    const result = await outcome;
    expect(result.ok && result.result).toBe("approved by ada");
    expect(result.state.type).toBe("COMPLETED");
    // The input is kept under the keyset's response key.
    expect(await t.client.request("GET", `/flow_runs/${paused.id}/input/paused-1-response`)).toEqual({ approved: true, by: "ada" });
  });

  it("fails the run when nobody resumes it in time", async () => {
    const waits = flow(async function waitsTooLong() {
      await pauseFlowRun({ timeoutSeconds: 0.3, pollIntervalSeconds: 0.05 });
      return "never";
    });
    const outcome = await waits.run();
    expect(outcome.ok).toBe(false);
    expect(outcome.state.type).toBe("FAILED");
    expect(!outcome.ok && outcome.error.cause).toBeInstanceOf(PauseTimeoutError);
  });

  it("refuses to resume a run that is not paused", async () => {
    const done = flow(function quick() {
      return 1;
    });
    const outcome = await done.run();
    const answer = await resume(outcome.flowRun.id);
    expect(answer.status).toBe("ABORT");
    expect(answer.details.reason).toContain("not paused");
  });

  it("is refused outside a flow and with a bad timeout", async () => {
    await expect(pauseFlowRun()).rejects.toThrow(/inside a flow run/);
    const bad = flow(async function badTimeout() {
      await pauseFlowRun({ timeoutSeconds: -1 });
    });
    const outcome = await bad.run();
    expect(!outcome.ok && String(outcome.error.cause)).toContain("timeoutSeconds");
  });
});

describe("suspendFlowRun", () => {
  it("leaves the process, is rescheduled by resume, and on the next execution returns the input at once", async () => {
    const calls: string[] = [];
    const review = flow(async function review(doc: string) {
      calls.push("start");
      const { verdict } = await suspendFlowRun({ timeoutSeconds: 600, waitForInput: z.object({ verdict: z.enum(["ship", "hold"]) }) });
      calls.push(verdict);
      return `${doc}: ${verdict}`;
    });
    const first = await review.run("report.pdf");
    expect(first.ok).toBe(false);
    expect(first.state.type).toBe("PAUSED");
    expect(first.state.name).toBe("Suspended");
    expect(first.state.state_details.pause_reschedule).toBe(true);
    expect(calls).toEqual(["start"]);

    const bad = await resume(first.flowRun.id, { verdict: "maybe" }).catch((error: unknown) => error);
    expect((bad as ApiError).status).toBe(422);
    const resumed = await resume(first.flowRun.id, { verdict: "ship" });
    expect(resumed.status).toBe("ACCEPT");
    expect(resumed.state).toMatchObject({ type: "SCHEDULED", name: "Resuming" });

    // What a worker does with the rescheduled run: execute it again from the start.
    const second = await review.runExisting(first.flowRun.id);
    expect(second.ok && second.result).toBe("report.pdf: ship");
    expect(calls).toEqual(["start", "start", "ship"]);
    expect((await t.client.readFlowRun(first.flowRun.id)).state_type).toBe("COMPLETED");
  });
});
