import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Flow } from "@baton/core";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

interface Page<T> {
  results: T[];
  count: number;
  limit: number;
  pages: number;
  page: number;
}

for (const dialect of DIALECTS) {
  describe(dialect, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(dialect);
    });
    afterAll(() => server.close());

    async function createFlow(body: Record<string, unknown>): Promise<Flow> {
      const { status, body: flow } = await server.call<Flow>("POST", "/flows/", body);
      expect(status).toBe(201);
      return flow;
    }
    async function filterNames(body: Record<string, unknown>): Promise<string[]> {
      const { status, body: flows } = await server.call<Flow[]>("POST", "/flows/filter", body);
      expect(status).toBe(200);
      return flows.map((f) => f.name);
    }

    describe("create, read, update, delete", () => {
      it("creates a flow (201) with its fields and server-set id and times", async () => {
        const before = Date.now();
        const flow = await createFlow({ name: "crud-create", tags: ["a", "b"], labels: { team: "data" } });
        expect(flow.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        expect(flow.name).toBe("crud-create");
        expect(flow.tags).toEqual(["a", "b"]);
        expect(flow.labels).toEqual({ team: "data" });
        expect(Date.parse(flow.created)).toBeGreaterThanOrEqual(before - 1000);
        expect(flow.updated).toBe(flow.created);
      });

      it("returns the existing flow with 200 when the name is taken, unchanged", async () => {
        const first = await createFlow({ name: "crud-upsert", tags: ["original"] });
        const second = await server.call<Flow>("POST", "/flows/", { name: "crud-upsert", tags: ["other"] });
        expect(second.status).toBe(200);
        expect(second.body.id).toBe(first.id);
        expect(second.body.tags).toEqual(["original"]);
        const count = await server.call<number>("POST", "/flows/count", { flows: { name: { any_: ["crud-upsert"] } } });
        expect(count.body).toBe(1);
      });

      it("reads a flow by id and by name", async () => {
        const flow = await createFlow({ name: "crud-read" });
        const byId = await server.call<Flow>("GET", `/flows/${flow.id}`);
        expect(byId.status).toBe(200);
        expect(byId.body).toEqual(flow);
        const byName = await server.call<Flow>("GET", "/flows/name/crud-read");
        expect(byName.status).toBe(200);
        expect(byName.body).toEqual(flow);
      });

      it("reads a flow by a name that needs URL encoding", async () => {
        const flow = await createFlow({ name: "crud read ü?" });
        const byName = await server.call<Flow>("GET", `/flows/name/${encodeURIComponent("crud read ü?")}`);
        expect(byName.status).toBe(200);
        expect(byName.body.id).toBe(flow.id);
      });

      it("reads a flow by its id in upper case: UUIDs are case-insensitive", async () => {
        const flow = await createFlow({ name: "crud-upper-id" });
        const { status, body } = await server.call<Flow>("GET", `/flows/${flow.id.toUpperCase()}`);
        expect(status).toBe(200);
        expect(body.id).toBe(flow.id);
      });

      it("answers 404 for an unknown id or name", async () => {
        expect((await server.call("GET", `/flows/${crypto.randomUUID()}`)).status).toBe(404);
        expect((await server.call("GET", "/flows/name/no-such-flow")).status).toBe(404);
      });

      it("patches tags (204) and moves `updated`", async () => {
        const flow = await createFlow({ name: "crud-patch", tags: ["old"] });
        await new Promise((r) => setTimeout(r, 5));
        const patch = await server.call("PATCH", `/flows/${flow.id}`, { tags: ["new", "newer"] });
        expect(patch.status).toBe(204);
        expect(patch.body).toBeUndefined();
        const read = await server.call<Flow>("GET", `/flows/${flow.id}`);
        expect(read.body.tags).toEqual(["new", "newer"]);
        expect(read.body.name).toBe("crud-patch");
        expect(Date.parse(read.body.updated)).toBeGreaterThan(Date.parse(flow.updated));
        expect(read.body.created).toBe(flow.created);
      });

      it("answers 404 when patching an unknown flow", async () => {
        expect((await server.call("PATCH", `/flows/${crypto.randomUUID()}`, { tags: [] })).status).toBe(404);
      });

      it("deletes a flow (204), then 404s; a second delete is 404", async () => {
        const flow = await createFlow({ name: "crud-delete" });
        const del = await server.call("DELETE", `/flows/${flow.id}`);
        expect(del.status).toBe(204);
        expect(del.body).toBeUndefined();
        expect((await server.call("GET", `/flows/${flow.id}`)).status).toBe(404);
        expect((await server.call("GET", "/flows/name/crud-delete")).status).toBe(404);
        expect((await server.call("DELETE", `/flows/${flow.id}`)).status).toBe(404);
      });

      it("deleting a flow deletes its runs", async () => {
        const flow = await createFlow({ name: "crud-delete-runs" });
        const run = await server.call<{ id: string }>("POST", "/flow_runs/", { flow_id: flow.id });
        expect(run.status).toBe(201);
        expect((await server.call("DELETE", `/flows/${flow.id}`)).status).toBe(204);
        expect((await server.call("GET", `/flow_runs/${run.body.id}`)).status).toBe(404);
      });

      it("a deleted name can be created again, with a new id", async () => {
        const flow = await createFlow({ name: "crud-recreate" });
        expect((await server.call("DELETE", `/flows/${flow.id}`)).status).toBe(204);
        const again = await createFlow({ name: "crud-recreate" });
        expect(again.id).not.toBe(flow.id);
      });
    });

    describe("filter, count, paginate", () => {
      const names = ["q-alpha", "q-beta", "q-gamma", "q-delta", "q-epsilon"];
      const ids: Record<string, string> = {};
      beforeAll(async () => {
        const tagsFor: Record<string, string[]> = {
          "q-alpha": ["qq", "red", "blue"],
          "q-beta": ["qq", "red"],
          "q-gamma": ["qq", "blue"],
          "q-delta": ["qq"],
          "q-epsilon": ["qq", "red", "blue", "green"],
        };
        for (const name of names) {
          ids[name] = (await createFlow({ name, tags: tagsFor[name] })).id;
          // Distinct `created` milliseconds, so CREATED_DESC has one right answer.
          await new Promise((r) => setTimeout(r, 3));
        }
      });
      const mine = { tags: { all_: ["qq"] } };

      it("filters by name any_", async () => {
        expect(await filterNames({ flows: { name: { any_: ["q-beta", "q-delta", "nope"] } } })).toEqual(["q-beta", "q-delta"]);
      });

      it("filters by name like_ (case-insensitive substring)", async () => {
        expect(await filterNames({ flows: { name: { like_: "ELT" } } })).toEqual(["q-delta"]);
        expect(await filterNames({ flows: { name: { like_: "q-" }, ...mine } })).toEqual([...names].sort());
      });

      it("treats like_ wildcards literally", async () => {
        expect(await filterNames({ flows: { name: { like_: "q_a" } } })).toEqual([]);
        expect(await filterNames({ flows: { name: { like_: "%" } } })).toEqual([]);
      });

      it("filters by tags all_", async () => {
        expect(await filterNames({ flows: { tags: { all_: ["red", "blue"] } } })).toEqual(["q-alpha", "q-epsilon"]);
        expect(await filterNames({ flows: { tags: { all_: ["red", "blue", "green"] } } })).toEqual(["q-epsilon"]);
      });

      it("filters by id any_ and not_any_", async () => {
        expect(await filterNames({ flows: { id: { any_: [ids["q-alpha"], ids["q-gamma"]] } } })).toEqual(["q-alpha", "q-gamma"]);
        const rest = await filterNames({ flows: { ...mine, id: { not_any_: [ids["q-alpha"], ids["q-gamma"]] } } });
        expect(rest).toEqual(["q-beta", "q-delta", "q-epsilon"]);
      });

      it("joins criteria with or_ when asked", async () => {
        const either = await filterNames({ flows: { operator: "or_", name: { any_: ["q-beta"] }, id: { any_: [ids["q-delta"]] } } });
        expect(either).toEqual(["q-beta", "q-delta"]);
        const both = await filterNames({ flows: { name: { any_: ["q-beta"] }, id: { any_: [ids["q-delta"]] } } });
        expect(both).toEqual([]);
      });

      it("sorts NAME_ASC by default, and NAME_DESC, CREATED_DESC, UPDATED_DESC on request", async () => {
        const sorted = [...names].sort();
        expect(await filterNames({ flows: mine })).toEqual(sorted);
        expect(await filterNames({ flows: mine, sort: "NAME_ASC" })).toEqual(sorted);
        expect(await filterNames({ flows: mine, sort: "NAME_DESC" })).toEqual([...sorted].reverse());
        expect(await filterNames({ flows: mine, sort: "CREATED_DESC" })).toEqual([...names].reverse());
        await new Promise((r) => setTimeout(r, 5));
        expect((await server.call("PATCH", `/flows/${ids["q-beta"]}`, { tags: ["qq", "red", "touched"] })).status).toBe(204);
        const byUpdated = await filterNames({ flows: mine, sort: "UPDATED_DESC" });
        expect(byUpdated[0]).toBe("q-beta");
      });

      it("applies limit and offset", async () => {
        const sorted = [...names].sort();
        expect(await filterNames({ flows: mine, limit: 2 })).toEqual(sorted.slice(0, 2));
        expect(await filterNames({ flows: mine, limit: 2, offset: 2 })).toEqual(sorted.slice(2, 4));
        expect(await filterNames({ flows: mine, offset: 4 })).toEqual(sorted.slice(4));
        expect(await filterNames({ flows: mine, offset: 50 })).toEqual([]);
        expect(await filterNames({ flows: mine, limit: 0 })).toEqual([]);
      });

      it("accepts an empty body as no filter", async () => {
        const { status, body } = await server.call<Flow[]>("POST", "/flows/filter");
        expect(status).toBe(200);
        expect(body.map((f) => f.name)).toEqual(expect.arrayContaining(names));
      });

      it("counts with the same filters", async () => {
        expect((await server.call<number>("POST", "/flows/count", { flows: mine })).body).toBe(5);
        expect((await server.call<number>("POST", "/flows/count", { flows: { tags: { all_: ["red"] }, ...{ name: { like_: "q-" } } } })).body).toBe(3);
        expect((await server.call<number>("POST", "/flows/count", { flows: { name: { any_: [] } } })).body).toBe(0);
      });

      it("paginates with 1-based pages and the page envelope", async () => {
        const sorted = [...names].sort();
        const page1 = await server.call<Page<Flow>>("POST", "/flows/paginate", { flows: mine, limit: 2, page: 1 });
        expect(page1.status).toBe(200);
        expect(page1.body.count).toBe(5);
        expect(page1.body.pages).toBe(3);
        expect(page1.body.limit).toBe(2);
        expect(page1.body.page).toBe(1);
        expect(page1.body.results.map((f) => f.name)).toEqual(sorted.slice(0, 2));
        const page3 = await server.call<Page<Flow>>("POST", "/flows/paginate", { flows: mine, limit: 2, page: 3 });
        expect(page3.body.results.map((f) => f.name)).toEqual(sorted.slice(4));
        expect(page3.body.page).toBe(3);
        const page4 = await server.call<Page<Flow>>("POST", "/flows/paginate", { flows: mine, limit: 2, page: 4 });
        expect(page4.body.results).toEqual([]);
        const desc = await server.call<Page<Flow>>("POST", "/flows/paginate", { flows: mine, limit: 2, sort: "NAME_DESC" });
        expect(desc.body.page).toBe(1);
        expect(desc.body.results.map((f) => f.name)).toEqual([...sorted].reverse().slice(0, 2));
      });

      it("filters flows by their runs' state (a cross filter)", async () => {
        const run = await server.call<{ id: string }>("POST", "/flow_runs/", { flow_id: ids["q-gamma"], state: { type: "RUNNING" } });
        expect(run.status).toBe(201);
        expect(await filterNames({ flows: mine, flow_runs: { state: { type: { any_: ["RUNNING"] } } } })).toEqual(["q-gamma"]);
      });

      it("filters flows by whether they have a deployment", async () => {
        const dep = await server.call("POST", "/deployments/", { name: "q-dep", flow_id: ids["q-epsilon"] });
        expect(dep.status).toBe(201);
        expect(await filterNames({ flows: { ...mine, deployment: { is_null_: false } } })).toEqual(["q-epsilon"]);
        expect(await filterNames({ flows: { ...mine, deployment: { is_null_: true } } })).not.toContain("q-epsilon");
      });
    });
  });
}
