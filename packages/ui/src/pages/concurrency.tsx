import { useState, type FormEvent } from "react";
import { Link } from "wouter";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import type { ConcurrencyLimitV2, TagConcurrencyLimit } from "@baton/core";
import { api } from "../api";
import { LIVE_MS, usePost } from "../queries";
import { confirmed } from "../components/confirm";
import { ErrorBox, PageHeader, QueryState, Toggle, formatDuration } from "../components/ui";

/** Global concurrency limits (v2, by name, with leases) and tag limits for task runs (v1). */
export default function ConcurrencyPage() {
  const queryClient = useQueryClient();
  const global = usePost<ConcurrencyLimitV2[]>("/v2/concurrency_limits/filter", { limit: 200 }, { refetchInterval: LIVE_MS });
  const tags = usePost<TagConcurrencyLimit[]>("/concurrency_limits/filter", { limit: 200 }, { refetchInterval: LIVE_MS });
  const refresh = () => queryClient.invalidateQueries({ predicate: (q) => String(q.queryKey[0]).includes("concurrency_limits") });
  const change = useMutation({ mutationFn: ({ method, path, body }: { method: string; path: string; body?: unknown }) => api(method, path, body), onSuccess: refresh });
  const [name, setName] = useState("");
  const [limit, setLimit] = useState("1");
  const [tag, setTag] = useState("");
  const [tagLimit, setTagLimit] = useState("1");

  const addGlobal = (event: FormEvent) => {
    event.preventDefault();
    change.mutate({ method: "POST", path: "/v2/concurrency_limits/", body: { name: name.trim(), limit: Number(limit) } }, { onSuccess: () => setName("") });
  };
  const addTag = (event: FormEvent) => {
    event.preventDefault();
    change.mutate({ method: "POST", path: "/concurrency_limits/", body: { tag: tag.trim(), concurrency_limit: Number(tagLimit) } }, { onSuccess: () => setTag("") });
  };

  return (
    <>
      <PageHeader title="Concurrency limits" />
      {change.error && <ErrorBox error={change.error} />}
      <section className="panel">
        <h2>Global limits</h2>
        <p className="muted small">Held by flows and tasks through <code>concurrency(name)</code> and <code>rateLimit(name)</code>.</p>
        <QueryState query={global} empty={global.data?.length === 0 && "No global concurrency limits."}>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Slots in use</th>
                  <th className="hide-phone">Denied</th>
                  <th className="hide-phone">Decay / s</th>
                  <th className="hide-phone">Avg. occupancy</th>
                  <th>Active</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {global.data?.map((l) => (
                  <tr key={l.id} data-limit={l.name}>
                    <td>{l.name}</td>
                    <td>
                      <meter min={0} max={l.limit} value={l.active_slots} aria-label={`${l.name} slots`} /> {l.active_slots} / {l.limit}
                    </td>
                    <td className="hide-phone">{l.denied_slots}</td>
                    <td className="hide-phone">{l.slot_decay_per_second || "—"}</td>
                    <td className="hide-phone">{formatDuration(l.avg_slot_occupancy_seconds)}</td>
                    <td>
                      <Toggle checked={l.active} label={`${l.name} active`} onToggle={(active) => change.mutateAsync({ method: "PATCH", path: `/v2/concurrency_limits/${l.id}`, body: { active } })} />
                    </td>
                    <td>
                      <button className="danger" onClick={() => confirmed(`Delete the limit ${l.name}?`) && change.mutate({ method: "DELETE", path: `/v2/concurrency_limits/${l.id}` })}>
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </QueryState>
        <form className="filters" onSubmit={addGlobal} aria-label="New global limit" style={{ marginTop: 12 }}>
          <input placeholder="Name" aria-label="Limit name" value={name} onChange={(e) => setName(e.target.value)} required />
          <input type="number" min={0} aria-label="Slots" value={limit} onChange={(e) => setLimit(e.target.value)} required style={{ width: 90 }} />
          <button type="submit">Add limit</button>
        </form>
      </section>
      <section className="panel">
        <h2>Task run tag limits</h2>
        <p className="muted small">A task run with a limited tag starts only with a free slot of that tag.</p>
        <QueryState query={tags} empty={tags.data?.length === 0 && "No tag limits."}>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>Tag</th>
                  <th>Slots in use</th>
                  <th>Held by</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {tags.data?.map((l) => (
                  <tr key={l.id} data-tag-limit={l.tag}>
                    <td>
                      <span className="tag">{l.tag}</span>
                    </td>
                    <td>
                      {l.active_slots.length} / {l.concurrency_limit}
                    </td>
                    <td className="small">{l.active_slots.length ? l.active_slots.map((id) => <div key={id}><code>{id.slice(0, 8)}</code></div>) : <span className="muted">—</span>}</td>
                    <td className="actions">
                      <button onClick={() => change.mutate({ method: "POST", path: `/concurrency_limits/tag/${encodeURIComponent(l.tag)}/reset`, body: {} })}>Reset</button>
                      <button className="danger" onClick={() => confirmed(`Delete the limit on ${l.tag}?`) && change.mutate({ method: "DELETE", path: `/concurrency_limits/tag/${encodeURIComponent(l.tag)}` })}>
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </QueryState>
        <form className="filters" onSubmit={addTag} aria-label="New tag limit" style={{ marginTop: 12 }}>
          <input placeholder="Tag" aria-label="Tag" value={tag} onChange={(e) => setTag(e.target.value)} required />
          <input type="number" min={0} aria-label="Tag slots" value={tagLimit} onChange={(e) => setTagLimit(e.target.value)} required style={{ width: 90 }} />
          <button type="submit">Add tag limit</button>
        </form>
      </section>
      <p className="muted small">
        Work pools and queues have limits of their own: see <Link href="/work-pools">Work pools</Link>.
      </p>
    </>
  );
}
