import { useState, type FormEvent } from "react";
import { Link } from "wouter";
import { useMutation } from "@tanstack/react-query";
import type { ConcurrencyLimitV2, TagConcurrencyLimit } from "@baton/core";
import { api } from "../api";
import { LIVE_MS, usePost } from "../queries";
import { DeleteButton, useRefresh } from "../components/actions";
import { ListTable } from "../components/list-table";
import { ErrorBox, PageHeader, Toggle, formatDuration } from "../components/ui";

/** Global concurrency limits (v2, by name, with leases) and tag limits for task runs (v1). */
export default function ConcurrencyPage() {
  const global = usePost<ConcurrencyLimitV2[]>("/v2/concurrency_limits/filter", { limit: 200 }, { refetchInterval: LIVE_MS });
  const tags = usePost<TagConcurrencyLimit[]>("/concurrency_limits/filter", { limit: 200 }, { refetchInterval: LIVE_MS });
  const refresh = useRefresh((path) => path.includes("concurrency_limits"));
  const change = useMutation({ mutationFn: ({ method, path, body }: { method: string; path: string; body?: unknown }) => api(method, path, body), onSuccess: refresh });

  return (
    <>
      <PageHeader title="Concurrency limits" />
      {change.error && <ErrorBox error={change.error} />}
      <section className="panel">
        <h2>Global limits</h2>
        <p className="muted small">Held by flows and tasks through <code>concurrency(name)</code> and <code>rateLimit(name)</code>.</p>
        <ListTable
          query={global}
          empty="No global concurrency limits."
          rowKey={(l) => l.id}
          rowProps={(l) => ({ "data-limit": l.name })}
          columns={[
            { header: "Name", cell: (l) => l.name },
            {
              header: "Slots in use",
              cell: (l) => (
                <>
                  <meter min={0} max={l.limit} value={l.active_slots} aria-label={`${l.name} slots`} /> {l.active_slots} / {l.limit}
                </>
              ),
            },
            { header: "Denied", className: "hide-phone", cell: (l) => l.denied_slots },
            { header: "Decay / s", className: "hide-phone", cell: (l) => l.slot_decay_per_second || "—" },
            { header: "Avg. occupancy", className: "hide-phone", cell: (l) => formatDuration(l.avg_slot_occupancy_seconds) },
            { header: "Active", cell: (l) => <Toggle checked={l.active} label={`${l.name} active`} onToggle={(active) => change.mutateAsync({ method: "PATCH", path: `/v2/concurrency_limits/${l.id}`, body: { active } })} /> },
            { cell: (l) => <DeleteButton question={`Delete the limit ${l.name}?`} onDelete={() => change.mutate({ method: "DELETE", path: `/v2/concurrency_limits/${l.id}` })} /> },
          ]}
        />
        <AddLimitForm
          label="New global limit"
          name={{ placeholder: "Name", label: "Limit name" }}
          slotsLabel="Slots"
          submit="Add limit"
          onAdd={(name, limit, done) => change.mutate({ method: "POST", path: "/v2/concurrency_limits/", body: { name, limit } }, { onSuccess: done })}
        />
      </section>
      <section className="panel">
        <h2>Task run tag limits</h2>
        <p className="muted small">A task run with a limited tag starts only with a free slot of that tag.</p>
        <ListTable
          query={tags}
          empty="No tag limits."
          rowKey={(l) => l.id}
          rowProps={(l) => ({ "data-tag-limit": l.tag })}
          columns={[
            { header: "Tag", cell: (l) => <span className="tag">{l.tag}</span> },
            {
              header: "Slots in use",
              cell: (l) => (
                <>
                  {l.active_slots.length} / {l.concurrency_limit}
                </>
              ),
            },
            { header: "Held by", cellClassName: "small", cell: (l) => (l.active_slots.length ? l.active_slots.map((id) => <div key={id}><code>{id.slice(0, 8)}</code></div>) : <span className="muted">—</span>) },
            {
              cellClassName: "actions",
              cell: (l) => (
                <>
                  <button onClick={() => change.mutate({ method: "POST", path: `/concurrency_limits/tag/${encodeURIComponent(l.tag)}/reset`, body: {} })}>Reset</button>
                  <DeleteButton question={`Delete the limit on ${l.tag}?`} onDelete={() => change.mutate({ method: "DELETE", path: `/concurrency_limits/tag/${encodeURIComponent(l.tag)}` })} />
                </>
              ),
            },
          ]}
        />
        <AddLimitForm
          label="New tag limit"
          name={{ placeholder: "Tag", label: "Tag" }}
          slotsLabel="Tag slots"
          submit="Add tag limit"
          onAdd={(tag, limit, done) => change.mutate({ method: "POST", path: "/concurrency_limits/", body: { tag, concurrency_limit: limit } }, { onSuccess: done })}
        />
      </section>
      <p className="muted small">
        Work pools and queues have limits of their own: see <Link href="/work-pools">Work pools</Link>.
      </p>
    </>
  );
}

/** A one-line form under a table of limits: a name (or tag) and a number of slots. */
function AddLimitForm({ label, name: nameInput, slotsLabel, submit, onAdd }: { label: string; name: { placeholder: string; label: string }; slotsLabel: string; submit: string; onAdd: (name: string, slots: number, done: () => void) => void }) {
  const [name, setName] = useState("");
  const [slots, setSlots] = useState("1");
  const add = (event: FormEvent) => {
    event.preventDefault();
    onAdd(name.trim(), Number(slots), () => setName(""));
  };
  return (
    <form className="filters" onSubmit={add} aria-label={label} style={{ marginTop: 12 }}>
      <input placeholder={nameInput.placeholder} aria-label={nameInput.label} value={name} onChange={(e) => setName(e.target.value)} required />
      <input type="number" min={0} aria-label={slotsLabel} value={slots} onChange={(e) => setSlots(e.target.value)} required style={{ width: 90 }} />
      <button type="submit">{submit}</button>
    </form>
  );
}
