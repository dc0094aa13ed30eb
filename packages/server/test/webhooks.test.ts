import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Webhook } from "@baton/core";
import { database, Harness, type Db } from "./automation-harness.js";
import { DIALECTS } from "./harness.js";

const TEMPLATE = `{
  "event": "github.{{ headers['x-github-event'] | default('unknown') }}",
  "resource": {"prefect.resource.id": "github.repo.{{ body.repository.full_name }}", "prefect.resource.name": "{{ body.repository.name }}"},
  "payload": {"ref": "{{ body.ref }}", "method": "{{ method }}", "source": "{{ query.source }}"}
}`;

for (const dialect of DIALECTS) {
  describe(`inbound webhooks on ${dialect}`, () => {
    let db: Db;
    let h: Harness;
    beforeAll(async () => {
      db = database(dialect);
      h = await Harness.start(db);
    });
    afterAll(async () => {
      await h.server.close();
      await db.cleanup();
    });

    async function create(body: Record<string, unknown>): Promise<Webhook> {
      const response = await h.call<Webhook>("POST", "/webhooks/", body);
      expect(response.status, JSON.stringify(response.body)).toBe(201);
      return response.body;
    }

    function hook(slug: string, init: RequestInit & { query?: string } = {}): Promise<Response> {
      return fetch(`${h.server.url}/hooks/${slug}${init.query ?? ""}`, { method: "POST", ...init });
    }

    it("turns a request into an event through its template, which automations see", async () => {
      const webhook = await create({ name: "github", template: TEMPLATE });
      expect(webhook.slug).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(webhook.secret).toBeNull();
      const target = await h.deployment("on-push");
      await h.automation({
        name: "deploy on push",
        trigger: { posture: "Reactive", expect: ["github.push"], match: { "prefect.resource.id": "github.repo.*" } },
        actions: [{ type: "run-deployment", deployment_id: target, parameters: { reason: "{{ event.payload.ref }} on {{ event.resource['prefect.resource.name'] }}" } }],
      });
      const response = await hook(webhook.slug, {
        query: "?source=ci",
        headers: { "content-type": "application/json", "x-github-event": "push" },
        body: JSON.stringify({ ref: "refs/heads/main", repository: { full_name: "acme/site", name: "site" } }),
      });
      expect(response.status).toBe(204);
      const eventId = response.headers.get("x-baton-event-id")!;
      const [event] = await h.events("github.push", "github.repo.acme/site", 1);
      expect(event!.id).toBe(eventId);
      expect(event!.payload).toEqual({ ref: "refs/heads/main", method: "POST", source: "ci" });
      expect(event!.related).toEqual([{ "prefect.resource.id": `baton.webhook.${webhook.id}`, "prefect.resource.role": "webhook", "prefect.resource.name": "github" }]);
      await h.settle();
      await h.triggers.executor!.drain();
      const runs = await h.runsOf(target);
      expect(runs.map((r) => r.parameters.reason)).toEqual(["refs/heads/main on site"]);
    });

    it("parses form bodies and plain text, and takes GET with a static template", async () => {
      const form = await create({ name: "form", template: '{"event": "form.{{ body.kind }}", "resource": {"prefect.resource.id": "form.{{ body.id }}"}}' });
      expect((await hook(form.slug, { headers: { "content-type": "application/x-www-form-urlencoded" }, body: "kind=signup&id=42" })).status).toBe(204);
      await h.events("form.signup", "form.42", 1);
      const text = await create({ name: "text", template: '{"event": "text.received", "resource": {"prefect.resource.id": "text.1"}, "payload": {"text": {{ body | tojson }}}}' });
      expect((await hook(text.slug, { headers: { "content-type": "text/plain" }, body: 'he said "hi"' })).status).toBe(204);
      const [event] = await h.events("text.received", "text.1", 1);
      expect(event!.payload).toEqual({ text: 'he said "hi"' });
      const ping = await create({ name: "ping", template: '{"event": "ping", "resource": {"prefect.resource.id": "pinger"}}' });
      expect((await hook(ping.slug, { method: "GET" })).status).toBe(204);
    });

    it("checks the secret: as a header, a bearer token, or an HMAC-SHA256 signature of the body", async () => {
      const secret = "s3cret-s3cret-s3cret";
      const webhook = await create({ name: "signed", template: '{"event": "signed.{{ body.n }}", "resource": {"prefect.resource.id": "signed"}}', secret });
      expect(webhook.secret).toBe("********");
      const body = JSON.stringify({ n: 1 });
      const json = { "content-type": "application/json" };
      expect((await hook(webhook.slug, { headers: json, body })).status).toBe(401);
      expect((await hook(webhook.slug, { headers: { ...json, "x-baton-webhook-secret": "wrong-wrong-wrong-wrong" }, body })).status).toBe(401);
      expect((await hook(webhook.slug, { headers: { ...json, "x-baton-webhook-secret": secret }, body })).status).toBe(204);
      expect((await hook(webhook.slug, { headers: { ...json, authorization: `Bearer ${secret}` }, body })).status).toBe(204);
      const signature = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
      expect((await hook(webhook.slug, { headers: { ...json, "x-hub-signature-256": signature }, body })).status).toBe(204);
      expect((await hook(webhook.slug, { headers: { ...json, "x-baton-signature-256": signature }, body: JSON.stringify({ n: 2 }) })).status).toBe(401);
      // Updating without the secret (or with the placeholder) keeps it; null removes it.
      expect((await h.call("PATCH", `/webhooks/${webhook.id}`, { description: "kept", secret: "********" })).status).toBe(204);
      expect((await hook(webhook.slug, { headers: json, body })).status).toBe(401);
      expect((await h.call("PATCH", `/webhooks/${webhook.id}`, { secret: null })).status).toBe(204);
      expect((await hook(webhook.slug, { headers: json, body })).status).toBe(204);
    });

    it("answers 404 for unknown, disabled and rotated slugs and 400 saying why for requests the template cannot make an event of", async () => {
      const webhook = await create({ name: "strict", template: '{"event": "{{ body.name }}", "resource": {"prefect.resource.id": "{{ body.id }}"}}' });
      const json = { "content-type": "application/json" };
      expect((await hook("no-such-slug", { headers: json, body: "{}" })).status).toBe(404);
      const missing = await hook(webhook.slug, { headers: json, body: JSON.stringify({ name: "x" }) });
      expect(missing.status).toBe(400);
      expect(((await missing.json()) as { detail: string }).detail).toContain("resource");
      const notJson = await hook(webhook.slug, { headers: json, body: "{not json" });
      expect(notJson.status).toBe(400);
      const bad = await create({ name: "bad-output", template: "not json at all" });
      expect((await hook(bad.slug, { headers: json, body: "{}" })).status).toBe(400);

      expect((await h.call("PATCH", `/webhooks/${webhook.id}`, { enabled: false })).status).toBe(204);
      expect((await hook(webhook.slug, { headers: json, body: JSON.stringify({ name: "e", id: "r" }) })).status).toBe(404);
      expect((await h.call("PATCH", `/webhooks/${webhook.id}`, { enabled: true })).status).toBe(204);
      const rotated = await h.call<Webhook>("POST", `/webhooks/${webhook.id}/rotate`);
      expect(rotated.body.slug).not.toBe(webhook.slug);
      expect((await hook(webhook.slug, { headers: json, body: JSON.stringify({ name: "e", id: "r" }) })).status).toBe(404);
      expect((await hook(rotated.body.slug, { headers: json, body: JSON.stringify({ name: "e", id: "r" }) })).status).toBe(204);
    });

    it("manages webhooks: read, list, 422 for a template that does not compile, delete", async () => {
      const webhook = await create({ name: "managed", template: '{"event": "m", "resource": {"prefect.resource.id": "m"}}' });
      expect((await h.call<Webhook>("GET", `/webhooks/${webhook.id}`)).body).toEqual(webhook);
      expect((await h.call<Webhook[]>("POST", "/webhooks/filter", {})).body.map((w) => w.name)).toContain("managed");
      const invalid = await h.call<{ exception_message: string }>("POST", "/webhooks/", { name: "x", template: "{{ body.x " });
      expect(invalid.status).toBe(422);
      expect(invalid.body.exception_message).toContain("body.template");
      const short = await h.call<{ exception_message: string }>("POST", "/webhooks/", { name: "x", template: "{}", secret: "short" });
      expect(short.body.exception_message).toContain("body.secret");
      expect((await h.call("DELETE", `/webhooks/${webhook.id}`)).status).toBe(204);
      expect((await h.call("GET", `/webhooks/${webhook.id}`)).status).toBe(404);
    });
  });
}
