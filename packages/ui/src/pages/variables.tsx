import { useState, type FormEvent } from "react";
import { useMutation } from "@tanstack/react-query";
import type { Variable } from "@baton/core";
import { api } from "../api";
import { usePost } from "../queries";
import { DeleteButton, useRefresh } from "../components/actions";
import { Dialog } from "../components/dialog";
import { ListTable } from "../components/list-table";
import { ErrorBox, PageHeader, Tags, Time, useDebounced } from "../components/ui";

function parseValue(text: string): unknown {
  // A variable holds JSON; plain words are kept as a string.
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export default function VariablesPage() {
  const [text, setText] = useState("");
  const search = useDebounced(text);
  const variables = usePost<Variable[]>("/variables/filter", { variables: search ? { name: { like_: search } } : undefined, sort: "NAME_ASC", limit: 200 }, { refetchInterval: 10_000 });
  const [editing, setEditing] = useState<Variable | "new" | null>(null);
  const refresh = useRefresh((path) => path.startsWith("/variables"));
  const remove = useMutation({ mutationFn: (name: string) => api("DELETE", `/variables/name/${encodeURIComponent(name)}`), onSuccess: refresh });
  return (
    <>
      <PageHeader title="Variables">
        <button className="primary" onClick={() => setEditing("new")}>
          New variable
        </button>
      </PageHeader>
      <div className="filters">
        <input data-search placeholder="Name…" aria-label="Search variables" value={text} onChange={(e) => setText(e.target.value)} />
      </div>
      {remove.error && <ErrorBox error={remove.error} />}
      <ListTable
        query={variables}
        empty="No variables."
        rowKey={(v) => v.id}
        rowProps={(v) => ({ "data-variable": v.name })}
        columns={[
          { header: "Name", cell: (v) => v.name },
          { header: "Value", cell: (v) => <code>{JSON.stringify(v.value)}</code> },
          { header: "Tags", className: "hide-phone", cell: (v) => <Tags tags={v.tags} /> },
          { header: "Updated", className: "hide-phone", cell: (v) => <Time iso={v.updated} /> },
          {
            cellClassName: "actions",
            cell: (v) => (
              <>
                <button onClick={() => setEditing(v)}>Edit</button>
                <DeleteButton question={`Delete the variable ${v.name}?`} onDelete={() => remove.mutate(v.name)} />
              </>
            ),
          },
        ]}
      />
      {editing && <VariableDialog variable={editing === "new" ? undefined : editing} onClose={() => setEditing(null)} onSaved={() => void refresh().then(() => setEditing(null))} />}
    </>
  );
}

function VariableDialog({ variable, onClose, onSaved }: { variable?: Variable; onClose: () => void; onSaved: () => void }) {
  const [name, setName] = useState(variable?.name ?? "");
  const [value, setValue] = useState(variable ? JSON.stringify(variable.value, null, 2) : "");
  const [tags, setTags] = useState(variable?.tags.join(", ") ?? "");
  const save = useMutation({
    mutationFn: () => {
      const body = { name: name.trim(), value: parseValue(value), tags: tags.split(",").map((t) => t.trim()).filter(Boolean) };
      return variable ? api("PATCH", `/variables/name/${encodeURIComponent(variable.name)}`, body) : api("POST", "/variables/", body);
    },
    onSuccess: onSaved,
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  return (
    <Dialog title={variable ? `Edit ${variable.name}` : "New variable"} onClose={onClose}>
      <form className="form" onSubmit={submit} aria-label="Variable">
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label>
          Value <span className="hint">JSON, or plain text for a string</span>
          <textarea value={value} onChange={(e) => setValue(e.target.value)} spellCheck={false} />
        </label>
        <label>
          Tags <span className="hint">comma-separated</span>
          <input value={tags} onChange={(e) => setTags(e.target.value)} />
        </label>
        {save.error && <ErrorBox error={save.error} />}
        <div className="actions">
          <button type="submit" className="primary" disabled={save.isPending}>
            Save
          </button>
        </div>
      </form>
    </Dialog>
  );
}
