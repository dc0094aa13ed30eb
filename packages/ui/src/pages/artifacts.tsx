import { useState } from "react";
import type { Artifact, ArtifactCollection } from "@baton/core";
import { usePost } from "../queries";
import { ArtifactView } from "../components/artifact-view";
import { ListTable } from "../components/list-table";
import { PageHeader, QueryState, Time, useDebounced } from "../components/ui";

/** The latest artifact of each key; a key opens to its history. */
export default function ArtifactsPage() {
  const [text, setText] = useState("");
  const [type, setType] = useState("");
  const search = useDebounced(text);
  const filter = { ...(search ? { key: { like_: search } } : {}), ...(type ? { type: { any_: [type] } } : {}) };
  const latest = usePost<ArtifactCollection[]>("/artifacts/latest/filter", { artifacts: Object.keys(filter).length ? filter : undefined, sort: "UPDATED_DESC", limit: 200 }, { refetchInterval: 10_000 });
  const [open, setOpen] = useState<string>();
  return (
    <>
      <PageHeader title="Artifacts" />
      <div className="filters">
        <input data-search placeholder="Key…" aria-label="Search artifacts" value={text} onChange={(e) => setText(e.target.value)} />
        <select aria-label="Artifact type" value={type} onChange={(e) => setType(e.target.value)}>
          <option value="">All types</option>
          {["markdown", "table", "link", "progress", "image", "result"].map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
      </div>
      <ListTable
        query={latest}
        empty="No artifacts with a key. Flows create them with createMarkdownArtifact() and friends."
        rowKey={(a) => a.key}
        rowProps={(a) => ({ "data-artifact-key": a.key })}
        columns={[
          {
            header: "Key",
            cell: (a) => (
              <button className="tab" aria-expanded={open === a.key} onClick={() => setOpen(open === a.key ? undefined : a.key)} style={{ padding: 0 }}>
                {open === a.key ? "▾" : "▸"} {a.key}
              </button>
            ),
          },
          { header: "Type", cell: (a) => a.type },
          { header: "Description", className: "hide-phone", cell: (a) => a.description },
          { header: "Updated", cell: (a) => <Time iso={a.updated} /> },
        ]}
      />
      {open && <ArtifactHistory artifactKey={open} />}
    </>
  );
}

function ArtifactHistory({ artifactKey }: { artifactKey: string }) {
  const versions = usePost<Artifact[]>("/artifacts/filter", { artifacts: { key: { any_: [artifactKey] } }, sort: "CREATED_DESC", limit: 20 });
  return (
    <section style={{ marginTop: 16 }}>
      <h2>{artifactKey}: latest versions</h2>
      <QueryState query={versions}>{versions.data?.map((a) => <ArtifactView key={a.id} artifact={a} />)}</QueryState>
    </section>
  );
}
