import { useState } from "react";
import { useMutation } from "@tanstack/react-query";
import type { BlockDocument, BlockSchema, BlockType } from "@baton/core";
import { api, post } from "../api";
import { usePost } from "../queries";
import { DeleteButton, useRefresh } from "../components/actions";
import { Dialog } from "../components/dialog";
import { ListTable, type Column } from "../components/list-table";
import { SchemaForm, type JsonSchema } from "../components/schema-form";
import { ErrorBox, Json, PageHeader, QueryState, Time } from "../components/ui";

/** Block documents (secrets shown masked, as the API returns them) and a form per block type's schema. */
export default function BlocksPage() {
  const [type, setType] = useState("");
  const blocks = usePost<BlockDocument[]>("/block_documents/filter", { block_documents: type ? { block_type_id: { any_: [type] } } : undefined, sort: "BLOCK_TYPE_AND_NAME_ASC", limit: 200 }, { refetchInterval: 10_000 });
  const types = usePost<BlockType[]>("/block_types/filter", { limit: 200 }, { staleTime: 60_000 });
  const [open, setOpen] = useState<string>();
  const [creating, setCreating] = useState(false);
  const refresh = useRefresh((path) => path.startsWith("/block_documents"));
  const remove = useMutation({ mutationFn: (id: string) => api("DELETE", `/block_documents/${id}`), onSuccess: refresh });
  return (
    <>
      <PageHeader title="Blocks">
        <button className="primary" onClick={() => setCreating(true)} disabled={!types.data?.length}>
          New block
        </button>
      </PageHeader>
      <div className="filters">
        <select aria-label="Block type" value={type} onChange={(e) => setType(e.target.value)}>
          <option value="">All block types</option>
          {types.data?.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name}
            </option>
          ))}
        </select>
      </div>
      {remove.error && <ErrorBox error={remove.error} />}
      <ListTable
        query={blocks}
        empty="No blocks."
        rowKey={(b) => b.id}
        columns={BLOCK_COLUMNS}
        renderRow={(b) => <BlockRow block={b} open={open === b.id} onToggle={() => setOpen(open === b.id ? undefined : b.id)} onDelete={() => remove.mutate(b.id)} />}
      />
      {creating && types.data && <NewBlockDialog types={types.data} onClose={() => setCreating(false)} onCreated={() => void refresh().then(() => setCreating(false))} />}
    </>
  );
}

// BlockRow draws its cells itself (a row opens into a second one), so only the headers live here.
const BLOCK_COLUMNS: Array<Column<BlockDocument>> = [
  { header: "Name", cell: () => null },
  { header: "Type", cell: () => null },
  { header: "Updated", className: "hide-phone", cell: () => null },
  { cell: () => null },
];

function BlockRow({ block, open, onToggle, onDelete }: { block: BlockDocument; open: boolean; onToggle: () => void; onDelete: () => void }) {
  return (
    <>
      <tr data-block={block.name ?? block.id}>
        <td>
          <button className="tab" aria-expanded={open} onClick={onToggle} style={{ padding: 0 }}>
            {open ? "▾" : "▸"} {block.name ?? <span className="muted">(anonymous)</span>}
          </button>
        </td>
        <td>{block.block_type?.name ?? block.block_type_name}</td>
        <td className="hide-phone">
          <Time iso={block.updated} />
        </td>
        <td>
          <DeleteButton question={`Delete the block ${block.name ?? block.id}?`} onDelete={onDelete} />
        </td>
      </tr>
      {open && (
        <tr>
          <td colSpan={BLOCK_COLUMNS.length}>
            <Json value={block.data} />
          </td>
        </tr>
      )}
    </>
  );
}

function NewBlockDialog({ types, onClose, onCreated }: { types: BlockType[]; onClose: () => void; onCreated: () => void }) {
  const [typeId, setTypeId] = useState(types[0]?.id ?? "");
  const [name, setName] = useState("");
  const schemas = usePost<BlockSchema[]>("/block_schemas/filter", { block_schemas: { block_type_id: { any_: [typeId] } }, limit: 1 }, { enabled: Boolean(typeId) });
  const schema = schemas.data?.[0];
  const create = useMutation({
    mutationFn: (data: Record<string, unknown>) => post("/block_documents/", { name: name.trim(), data, block_schema_id: schema!.id, block_type_id: typeId }),
    onSuccess: onCreated,
  });
  return (
    <Dialog title="New block" onClose={onClose}>
      <div className="form">
        <label>
          Type
          <select value={typeId} onChange={(e) => setTypeId(e.target.value)} aria-label="New block type">
            {types.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Name <span className="hint">lower-case letters, digits and dashes</span>
          <input value={name} onChange={(e) => setName(e.target.value)} aria-label="Block name" />
        </label>
      </div>
      <QueryState query={schemas} empty={schemas.data?.length === 0 && "This block type has no schema."}>
        {schema && <SchemaForm key={schema.id} schema={schema.fields as JsonSchema} initial={{}} submitLabel="Create block" onSubmit={(data) => create.mutate(data)} busy={create.isPending} error={create.error} />}
      </QueryState>
    </Dialog>
  );
}
