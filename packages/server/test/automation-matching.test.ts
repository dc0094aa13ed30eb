import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventFilter, EventTrigger, type Automation, type ReceivedEvent } from "@baton/core";
import { eventMatches, TriggerEngine } from "@baton/server";
import { TriggerMatcher } from "../src/automations/matching.js";
import { MovableClock } from "./automation-harness.js";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

/**
 * A trigger's `match` / `match_related` and an event filter's `resource.labels` /
 * `related.labels` read the same specification the same way: one table of cases, run through
 * the trigger matcher and through the filter's live matcher (which agrees with its SQL:
 * events-filter-resources.test.ts).
 */
type Labels = Record<string, string>;
const ev = (resource: Labels, related: Labels[] = []): ReceivedEvent => ({
  id: randomUUID(),
  occurred: "2032-05-05T00:00:00.000Z",
  received: "2032-05-05T00:00:00.000Z",
  event: "test.match",
  resource: { "prefect.resource.id": "test.thing", ...resource },
  related,
  payload: {},
  follows: null,
});

const CORPUS: Record<string, ReceivedEvent> = {
  prod: ev({ env: "prod", team: "data" }, [{ "prefect.resource.id": "prefect.flow.etl", "prefect.resource.role": "flow" }, { "prefect.resource.id": "prefect.tag.nightly", "prefect.resource.role": "tag" }]),
  eu: ev({ env: "prod-eu" }, [{ "prefect.resource.id": "prefect.flow.report", "prefect.resource.role": "flow" }]),
  staging: ev({ env: "staging" }, [{ "prefect.resource.id": "prefect.tag.nightly", "prefect.resource.role": "tag" }]),
  bare: ev({}),
  // Labels named like Object.prototype's members, as an event parsed from JSON carries them
  // (in an object literal `__proto__:` would set the prototype instead).
  odd: JSON.parse(
    JSON.stringify(ev({ constructor: "c", toString: "t" }, [{ "prefect.resource.id": "prefect.flow.x", "prefect.resource.role": "constructor" }])).replace('"constructor":"c"', '"constructor":"c","__proto__":"p"'),
  ) as ReceivedEvent,
};
const ALL = Object.keys(CORPUS);

const CASES: Array<[string, Record<string, string | string[]>, string[]]> = [
  ["one value", { env: "prod" }, ["prod"]],
  ["a list of values", { env: ["prod", "staging"] }, ["prod", "staging"]],
  ["a prefix", { env: "prod*" }, ["prod", "eu"]],
  ["any value needs the label", { env: "*" }, ["prod", "eu", "staging"]],
  ["values and prefixes", { env: ["staging", "prod-*"] }, ["eu", "staging"]],
  ["a negation needs the label", { env: "!prod" }, ["eu", "staging"]],
  ["a negated prefix", { env: "!prod*" }, ["staging"]],
  ["several negations exclude each", { env: ["!prod", "!staging"] }, ["eu"]],
  ["a prefix less a value", { env: ["prod*", "!prod-eu"] }, ["prod"]],
  ["an empty list matches nothing", { env: [] }, []],
  ["every label must match", { env: "prod", team: "data" }, ["prod"]],
  ["case-sensitive", { env: "PROD" }, []],
  ["a label named constructor", { constructor: "*" }, ["odd"]],
  // (A specification naming `__proto__` cannot be tested here: zod's records drop that key.)
  ["a prefix on toString", { toString: "t*" }, ["odd"]],
  ["toString absent is absent", { toString: "!nothing" }, ["odd"]],
  ["hasOwnProperty is never a label", { hasOwnProperty: "*" }, []],
  ["no labels constrain nothing", {}, ALL],
];

const trigger = (fields: Record<string, unknown>) => EventTrigger.parse({ type: "event", posture: "Reactive", expect: ["test.match"], ...fields });
const keys = (pick: (event: ReceivedEvent) => boolean) => ALL.filter((key) => pick(CORPUS[key]!));

describe("trigger label matching agrees with the event filter", () => {
  it.each(CASES)("match: %s", (_, spec, expected) => {
    const matcher = new TriggerMatcher(trigger({ match: spec }));
    expect(keys((event) => matcher.covers(event))).toEqual(expected);
    const filter = EventFilter.parse({ resource: { labels: spec } });
    expect(keys((event) => eventMatches(filter, event))).toEqual(expected);
  });

  const RELATED: Array<[string, unknown, string[]]> = [
    ["one role", { "prefect.resource.role": "flow" }, ["prod", "eu"]],
    ["an id prefix", { "prefect.resource.id": "prefect.tag.*" }, ["prod", "staging"]],
    ["a negated id on one resource", { "prefect.resource.id": "!prefect.flow.etl" }, ["prod", "eu", "staging", "odd"]],
    ["a list: each met, by different resources", [{ "prefect.resource.role": "flow" }, { "prefect.resource.id": "prefect.tag.nightly" }], ["prod"]],
    ["a role named constructor", { "prefect.resource.role": "constructor" }, ["odd"]],
    ["an empty list constrains nothing", [], ALL],
  ];
  it.each(RELATED)("match_related: %s", (_, spec, expected) => {
    const matcher = new TriggerMatcher(trigger({ match_related: spec }));
    expect(keys((event) => matcher.covers(event))).toEqual(expected);
    const specs = (Array.isArray(spec) ? spec : [spec]) as Array<Record<string, string>>;
    const filter = EventFilter.parse({ related: specs.map((labels) => ({ labels })) });
    expect(keys((event) => eventMatches(filter, event))).toEqual(expected);
  });

  it("for_each reads own labels only", () => {
    const matcher = new TriggerMatcher(trigger({ for_each: ["constructor", "toString", "related:constructor:prefect.resource.id", "related:flow:valueOf"] }));
    // Sorted by label: constructor, related:constructor:..., related:flow:valueOf, toString.
    expect(matcher.bucketingKey(CORPUS.odd!)).toEqual(["c", "prefect.flow.x", "", "t"]);
    expect(matcher.bucketingKey(CORPUS.bare!)).toEqual(["", "", "", ""]);
  });
});

for (const dialect of DIALECTS) {
  describe(`a label named like an object member does not break a trigger batch (${dialect})`, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(dialect);
    });
    afterAll(() => server.close());

    it("the batch is evaluated, and the triggers that match fire", async () => {
      const acted: string[] = [];
      const engine = new TriggerEngine({
        db: server.db,
        clock: new MovableClock(),
        logger: { debug: () => undefined, info: () => undefined, error: () => undefined },
        act: async (automation) => void acted.push(automation.name),
      });
      const make = async (name: string, fields: Record<string, unknown>): Promise<Automation> => {
        const created = await server.call<Automation>("POST", "/automations/", { name, trigger: { posture: "Reactive", expect: ["test.odd"], ...fields }, actions: [{ type: "do-nothing" }] });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        return created.body;
      };
      await make("by toString prefix", { match: { toString: "x*" } });
      await make("by constructor", { match: { constructor: "c" }, for_each: ["valueOf", "constructor"], threshold: 1, within: 60 });
      await make("by anything", {});
      const now = new Date().toISOString();
      const odd = JSON.parse(
        JSON.stringify({ id: randomUUID(), occurred: now, received: now, event: "test.odd", resource: { "prefect.resource.id": "test.odd.1" }, related: [], payload: {}, follows: null }),
      ) as ReceivedEvent;
      const plain = { ...odd, id: randomUUID(), resource: JSON.parse('{"prefect.resource.id": "test.odd.2", "constructor": "c", "__proto__": "p"}') as Record<string, string> };
      await engine.handle([odd, plain]);
      expect(acted.sort()).toEqual(["by anything", "by anything", "by constructor"]);
    });
  });
}
