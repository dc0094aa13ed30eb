import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Variable } from "@baton/core";
import { contractProperties } from "./contract-fields.js";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

interface Invalid {
  exception_message: string;
}

for (const dialect of DIALECTS) {
  describe(`variables on ${dialect}`, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(dialect);
    });
    afterAll(() => server.close());

    async function create(body: Record<string, unknown>): Promise<Variable> {
      const { status, body: variable } = await server.call<Variable>("POST", "/variables/", body);
      expect(status, JSON.stringify(variable)).toBe(201);
      return variable;
    }
    async function names(body: Record<string, unknown>): Promise<string[]> {
      const { status, body: found } = await server.call<Variable[]>("POST", "/variables/filter", body);
      expect(status, JSON.stringify(found)).toBe(200);
      return found.map((v) => v.name);
    }

    it("creates a variable with any JSON value and reads it by id and by name", async () => {
      const values: unknown[] = ["text", 42, 1.5, true, null, [1, "two", null], { nested: { list: [1, 2] }, flag: false }];
      for (const [i, value] of values.entries()) {
        const variable = await create({ name: `crud_value_${i}`, value, tags: ["t"] });
        expect(variable.value).toEqual(value);
        expect(variable.tags).toEqual(["t"]);
        expect(variable.created).toBe(variable.updated);
        const byId = await server.call<Variable>("GET", `/variables/${variable.id}`);
        expect(byId.status).toBe(200);
        expect(byId.body).toEqual(variable);
        const byName = await server.call<Variable>("GET", `/variables/name/crud_value_${i}`);
        expect(byName.status).toBe(200);
        expect(byName.body).toEqual(variable);
      }
    });

    it("answers with exactly the contract's Variable fields", async () => {
      const variable = await create({ name: "contract_shape", value: { a: 1 } });
      const expected = contractProperties("Variable");
      if (expected) expect(Object.keys(variable).sort()).toEqual(expected);
      else expect(Object.keys(variable).sort()).toEqual(["created", "id", "name", "tags", "updated", "value"]);
    });

    it("defaults tags to [] and refuses a duplicate name with 409, leaving the first", async () => {
      const first = await create({ name: "dup_name", value: "first" });
      expect(first.tags).toEqual([]);
      const second = await server.call<{ detail: string }>("POST", "/variables/", { name: "dup_name", value: "second" });
      expect(second.status).toBe(409);
      expect(second.body.detail).toContain("dup_name");
      expect((await server.call<Variable>("GET", "/variables/name/dup_name")).body.value).toBe("first");
    });

    it("updates by id and by name; an absent value is kept, null sets null, a rename onto a taken name is 409", async () => {
      const variable = await create({ name: "upd_a", value: { n: 1 }, tags: ["x"] });
      await create({ name: "upd_taken", value: 0 });
      expect((await server.call("PATCH", `/variables/${variable.id}`, { tags: ["y", "z"] })).status).toBe(204);
      let read = (await server.call<Variable>("GET", `/variables/${variable.id}`)).body;
      expect(read.value).toEqual({ n: 1 });
      expect(read.tags).toEqual(["y", "z"]);
      expect(Date.parse(read.updated)).toBeGreaterThanOrEqual(Date.parse(variable.updated));
      expect((await server.call("PATCH", "/variables/name/upd_a", { value: null, name: "upd_b" })).status).toBe(204);
      read = (await server.call<Variable>("GET", "/variables/name/upd_b")).body;
      expect(read.id).toBe(variable.id);
      expect(read.value).toBeNull();
      expect((await server.call("GET", "/variables/name/upd_a")).status).toBe(404);
      const clash = await server.call<{ detail: string }>("PATCH", `/variables/${variable.id}`, { name: "upd_taken" });
      expect(clash.status).toBe(409);
      expect(clash.body.detail).toContain("upd_taken");
    });

    it("deletes by id and by name; unknown ids and names are 404", async () => {
      const a = await create({ name: "del_a", value: 1 });
      await create({ name: "del_b", value: 2 });
      expect((await server.call("DELETE", `/variables/${a.id}`)).status).toBe(204);
      expect((await server.call("GET", `/variables/${a.id}`)).status).toBe(404);
      expect((await server.call("DELETE", "/variables/name/del_b")).status).toBe(204);
      expect((await server.call("GET", "/variables/name/del_b")).status).toBe(404);
      for (const [method, path] of [
        ["GET", `/variables/${a.id}`],
        ["PATCH", `/variables/${a.id}`],
        ["DELETE", `/variables/${a.id}`],
        ["GET", "/variables/name/no_such"],
        ["PATCH", "/variables/name/no_such"],
        ["DELETE", "/variables/name/no_such"],
      ] as const) {
        const response = await server.call<{ detail: string }>(method, path, method === "PATCH" ? { value: 1 } : undefined);
        expect(response.status, `${method} ${path}`).toBe(404);
        expect(response.body.detail).toBe("Variable not found");
      }
    });

    it("filters by name (any_, like_ with wildcards), id and tags, sorts, pages and counts", async () => {
      const zeta = await create({ name: "flt_zeta", value: 1, tags: ["red", "big"] });
      await create({ name: "flt_alpha", value: 2, tags: ["red"] });
      await create({ name: "flt_mid", value: 3 });
      const all = { variables: { name: { like_: "flt_" } } };
      expect(await names(all)).toEqual(["flt_alpha", "flt_mid", "flt_zeta"]);
      expect(await names({ ...all, sort: "NAME_DESC" })).toEqual(["flt_zeta", "flt_mid", "flt_alpha"]);
      expect(await names({ ...all, sort: "CREATED_DESC" })).toEqual(["flt_mid", "flt_alpha", "flt_zeta"]);
      expect(await names({ ...all, limit: 1, offset: 1 })).toEqual(["flt_mid"]);
      expect(await names({ variables: { name: { like_: "FLT_%A" } } })).toEqual(["flt_alpha", "flt_zeta"]);
      expect(await names({ variables: { name: { any_: ["flt_mid", "nope"] } } })).toEqual(["flt_mid"]);
      expect(await names({ variables: { id: { any_: [zeta.id] } } })).toEqual(["flt_zeta"]);
      expect(await names({ variables: { name: { like_: "flt_" }, tags: { all_: ["red"] } } })).toEqual(["flt_alpha", "flt_zeta"]);
      expect(await names({ variables: { name: { like_: "flt_" }, tags: { all_: ["red", "big"] } } })).toEqual(["flt_zeta"]);
      expect(await names({ variables: { name: { like_: "flt_" }, tags: { is_null_: true } } })).toEqual(["flt_mid"]);
      expect(await names({ variables: { operator: "or_", name: { any_: ["flt_mid"] }, id: { any_: [zeta.id] } } })).toEqual(["flt_mid", "flt_zeta"]);
      expect((await server.call<number>("POST", "/variables/count", all)).body).toBe(3);
      expect((await server.call<number>("POST", "/variables/count", { variables: { tags: { all_: ["big"] } } })).body).toBe(1);
      const total = await server.call<number>("POST", "/variables/count", {});
      expect(total.status).toBe(200);
      expect(total.body).toBeGreaterThanOrEqual(3);
    });

    it("refuses bad names, oversized values, missing values and wrong types with 422 naming the field", async () => {
      const cases: Array<[unknown, string]> = [
        [{ name: "Has-Caps", value: 1 }, "body.name"],
        [{ name: "with space", value: 1 }, "body.name"],
        [{ name: "", value: 1 }, "body.name"],
        [{ name: "x".repeat(256), value: 1 }, "body.name"],
        [{ name: "ok_name" }, "body.value"],
        [{ name: "ok_name", value: "x".repeat(5000) }, "body.value"],
        [{ name: 5, value: 1 }, "body.name"],
        [{ name: "ok_name", value: 1, tags: "red" }, "body.tags"],
        [{ name: "ok_name", value: 1, extra: true }, "body"],
      ];
      for (const [body, field] of cases) {
        const response = await server.call<Invalid>("POST", "/variables/", body);
        expect(response.status, JSON.stringify(body).slice(0, 80)).toBe(422);
        expect(response.body.exception_message).toContain(`${field}`);
      }
      // 4998 characters plus the quotes is exactly the limit.
      expect((await server.call("POST", "/variables/", { name: "at_limit", value: "x".repeat(4998) })).status).toBe(201);
      const update = await server.call<Invalid>("PATCH", "/variables/name/at_limit", { name: "Bad Name" });
      expect(update.status).toBe(422);
      expect(update.body.exception_message).toContain("body.name");
      const badId = await server.call<Invalid>("GET", "/variables/not-a-uuid");
      expect(badId.status).toBe(422);
      expect(badId.body.exception_message).toContain("path.id");
      const badSort = await server.call<Invalid>("POST", "/variables/filter", { sort: "SIZE_ASC" });
      expect(badSort.status).toBe(422);
      expect(badSort.body.exception_message).toContain("body.sort");
      const badLimit = await server.call<Invalid>("POST", "/variables/filter", { limit: -1 });
      expect(badLimit.status).toBe(422);
      expect(badLimit.body.exception_message).toContain("body.limit");
    });
  });
}
