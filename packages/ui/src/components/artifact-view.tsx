import type { Artifact } from "@baton/core";
import { Link } from "wouter";
import { Json, Time } from "./ui";

/** An artifact as its type says: a table as a table, markdown and links as text, the rest as JSON. */
export function ArtifactView({ artifact }: { artifact: Artifact }) {
  return (
    <section className="panel" data-artifact-id={artifact.id}>
      <h2>
        {artifact.key ?? artifact.id.slice(0, 8)} <span className="tag">{artifact.type ?? "result"}</span>
      </h2>
      <p className="muted small">
        {artifact.description ? `${artifact.description} · ` : ""}
        <Time iso={artifact.created} />
        {artifact.flow_run_id && (
          <>
            {" · "}
            <Link href={`/runs/${artifact.flow_run_id}`}>flow run</Link>
          </>
        )}
      </p>
      <ArtifactData type={artifact.type} data={artifact.data} />
    </section>
  );
}

function ArtifactData({ type, data }: { type: string | null; data: unknown }) {
  if (type === "table") {
    const rows = parseTable(data);
    if (rows) {
      const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
      return (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>{columns.map((c) => <th key={c}>{c}</th>)}</tr>
            </thead>
            <tbody>
              {rows.map((row, i) => (
                <tr key={i}>{columns.map((c) => <td key={c}>{format(row[c])}</td>)}</tr>
              ))}
            </tbody>
          </table>
        </div>
      );
    }
  }
  if (type === "link" && typeof data === "string" && /^https?:\/\//.test(data)) {
    return (
      <a href={data} rel="noreferrer noopener" target="_blank">
        {data}
      </a>
    );
  }
  if (typeof data === "string") return <pre className="json markdown">{data}</pre>;
  return <Json value={data} />;
}

function parseTable(data: unknown): Array<Record<string, unknown>> | undefined {
  const value = typeof data === "string" ? safeParse(data) : data;
  if (Array.isArray(value) && value.every((row) => row && typeof row === "object" && !Array.isArray(row))) return value as Array<Record<string, unknown>>;
  return undefined;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function format(value: unknown): string {
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}
