import { describe, expect, it } from "vitest";
import { z } from "zod";
import { FlowRun, Id } from "../src/index.js";
import { lazySchema } from "../src/lazy-schema.js";

describe("lazySchema", () => {
  it("builds the schema on first use, once", () => {
    let builds = 0;
    const Point = lazySchema(() => {
      builds += 1;
      return z.object({ x: z.number(), y: z.number() });
    });
    expect(builds).toBe(0);
    expect(Point.parse({ x: 1, y: 2 })).toEqual({ x: 1, y: 2 });
    expect(Point.safeParse({ x: "1" }).success).toBe(false);
    expect(builds).toBe(1);
  });

  it("is used as the schema itself: composed, extended, checked with instanceof, turned into JSON Schema", () => {
    const Inner = lazySchema(() => z.string().min(2, "too short"));
    const Outer = z.object({ name: Inner, tags: z.array(Inner).optional() });
    const result = Outer.safeParse({ name: "a" });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]).toMatchObject({ path: ["name"], message: "too short" });
    expect(Inner).toBeInstanceOf(z.ZodString);
    expect(Inner.nullish().parse(null)).toBeNull();
    const Extended = lazySchema(() => z.object({ a: z.number() })).extend({ b: Inner });
    expect(Extended.parse({ a: 1, b: "bb" })).toEqual({ a: 1, b: "bb" });
    expect(z.toJSONSchema(Outer)).toMatchObject({ type: "object", properties: { name: { type: "string", minLength: 2 } }, required: ["name"] });
  });

  it("core's schemas work through it: Id lower-cases, FlowRun names a missing field", () => {
    expect(Id.parse("0192F6C4-8D2E-7C3B-9A41-5E8F2D1B6A70")).toBe("0192f6c4-8d2e-7c3b-9a41-5e8f2d1b6a70");
    const parsed = FlowRun.safeParse({});
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.some((issue) => issue.path[0] === "id")).toBe(true);
  });
});
