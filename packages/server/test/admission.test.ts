import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { Admission } from "../src/api/admission.js";
import { ApiRouter } from "../src/api/route.js";

const turnOfTheLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("admission of requests to their handlers", () => {
  it("starts waiting requests in order, one per turn of the event loop", async () => {
    const admission = new Admission();
    const started: number[] = [];
    const all = [1, 2, 3].map((n) => admission.turn().then(() => started.push(n)));
    expect(admission.queued).toBe(3);
    await turnOfTheLoop();
    expect(started).toEqual([1]);
    await turnOfTheLoop();
    expect(started).toEqual([1, 2]);
    await Promise.all(all);
    expect(started).toEqual([1, 2, 3]);
    expect(admission.queued).toBe(0);
  });

  it("runs an admitAtOnce route ahead of requests read before it, and still runs every one of those", async () => {
    const app = Fastify();
    const router = new ApiRouter(app, "/api");
    const order: string[] = [];
    router.route({ method: "POST", path: "/bulk/{n}", tag: "t", summary: "bulk", handler: ({ request }) => void order.push(`bulk ${(request.params as { n: string }).n}`) });
    router.route({ method: "POST", path: "/slots", tag: "t", summary: "slots", admitAtOnce: true, handler: () => void order.push("slots") });
    await app.ready();
    const bulk = [1, 2, 3, 4, 5].map((n) => app.inject({ method: "POST", url: `/api/bulk/${n}` }));
    const slots = app.inject({ method: "POST", url: "/api/slots" });
    const answers = await Promise.all([...bulk, slots]);
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(order).toEqual(["slots", "bulk 1", "bulk 2", "bulk 3", "bulk 4", "bulk 5"]);
    await app.close();
  });
});
