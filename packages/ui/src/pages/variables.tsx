import { useState, type FormEvent } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import type { Variable } from "@baton/core";
import { api } from "../api";
import { usePost } from "../queries";
import { confirmed } from "../components/confirm";
import { Dialog } from "../components/dialog";
import { ErrorBox, PageHeader, QueryState, Tags, Time, useDebounced } from "../components/ui";

function parseValue(text: string): unknown {
  // A variable holds JSON; plain words are kept as a string.
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export default function VariablesPage() {
  const queryClient = useQueryClient();
  const [text, setText] = useState("");
  const search = useDebounced(text);
  const variables = usePost<Variable[]>("/variables/filter", { variables: search ? { name: { like_: search } } : undefined, sort: "NAME_ASC", limit: 200 }, { refetchInterval: 10_000 });
  const [editing, setEditing] = useState<Variable | "new" | null>(null);
  const refresh = () => queryClient.invalidateQueries({ predicate: (q) => String(q.queryKey[0]).startsWith("/variables") });
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
      <QueryState query={variables} empty={variables.data?.length === 0 && "No variables."}>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th>Value</th>
                <th className="hide-phone">Tags</th>
                <th className="hide-phone">Updated</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {variables.data?.map((v) => (
                <tr key={v.id} data-variable={v.name}>
                  <td>{v.name}</td>
                  <td>
                    <code>{JSON.stringify(v.value)}</code>
                  </td>
                  <td className="hide-phone">
                    <Tags tags={v.tags} />
                  </td>
                  <td className="hide-phone">
                    <Time iso={v.updated} />
                  </td>
                  <td className="actions">
                    <button onClick={() => setEditing(v)}>Edit</button>
                    <button className="danger" onClick={() => confirmed(`Delete the variable ${v.name}?`) && remove.mutate(v.name)}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </QueryState>
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
