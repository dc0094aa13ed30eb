import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError, ConflictError, flow, task, variables, type Variable } from "@baton/sdk";
import { startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});

describe("variables", () => {
  it("set creates, get reads, unset deletes; get of a missing name gives the default", async () => {
    const created = await variables.set("sdk_answer", { n: 42, list: [1, "a"] }, { tags: ["sdk"] });
    expect(created).toMatchObject({ name: "sdk_answer", value: { n: 42, list: [1, "a"] }, tags: ["sdk"] });
    const stored = await t.client.request<Variable>("GET", "/variables/name/sdk_answer");
    expect(stored.id).toBe(created.id);
    expect(await variables.get("sdk_answer")).toEqual({ n: 42, list: [1, "a"] });
    expect(await variables.unset("sdk_answer")).toBe(true);
    expect(await variables.unset("sdk_answer")).toBe(false);
    expect(await variables.get("sdk_answer")).toBeUndefined();
    expect(await variables.get("sdk_answer", "fallback")).toBe("fallback");
  });

  it("set of an existing name throws without overwrite, replaces value (and given tags) with it", async () => {
    await variables.set("sdk_over", "one", { tags: ["a"] });
    await expect(variables.set("sdk_over", "two")).rejects.toBeInstanceOf(ConflictError);
    expect(await variables.get("sdk_over")).toBe("one");
    const kept = await variables.set("sdk_over", 2, { overwrite: true });
    expect(kept).toMatchObject({ value: 2, tags: ["a"] });
    const retagged = await variables.set("sdk_over", null, { overwrite: true, tags: ["b"] });
    expect(retagged).toMatchObject({ value: null, tags: ["b"] });
    // A null value is a value: get returns null, not the default.
    expect(await variables.get("sdk_over", "default")).toBeNull();
  });

  it("reads and writes inside a flow and a task through the run's client", async () => {
    await variables.set("sdk_in_run", 10);
    const bump = task(async function bump() {
      const current = await variables.get<number>("sdk_in_run", 0);
      await variables.set("sdk_in_run", current + 1, { overwrite: true });
      return current + 1;
    });
    const counting = flow(async function counting() {
      const first = await bump();
      const second = await bump();
      return [first, second, await variables.get<number>("sdk_in_run")];
    });
    expect(await counting()).toEqual([11, 12, 12]);
  });

  it("a name the server refuses is an ApiError 422 naming the field", async () => {
    const error = await variables.set("Not Valid", 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(422);
    expect((error as ApiError).detail).toContain("body.name");
  });
});
