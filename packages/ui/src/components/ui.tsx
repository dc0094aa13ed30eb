import { useEffect, useState, type ReactNode } from "react";
import { Link } from "wouter";
import type { StateType } from "@baton/core";

export const STATE_TYPES: StateType[] = ["SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING", "COMPLETED", "FAILED", "CRASHED", "CANCELLED"];

/** One colour per state type, shared by badges, charts and timelines (CSS variables per theme). */
export function stateColor(type: string | null | undefined): string {
  return `var(--state-${(type ?? "unknown").toLowerCase()})`;
}

export function StateBadge({ type, name }: { type: string | null | undefined; name?: string | null }) {
  return (
    <span className="badge" style={{ ["--c" as string]: stateColor(type) }} data-state={type ?? "UNKNOWN"}>
      {name || titleCase(type ?? "Unknown")}
    </span>
  );
}

export function titleCase(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1).toLowerCase();
}

export function PageHeader({ title, children, crumbs }: { title: ReactNode; children?: ReactNode; crumbs?: Array<[string, string]> }) {
  return (
    <header className="page-header">
      <div>
        {crumbs && (
          <nav className="crumbs" aria-label="Breadcrumbs">
            {crumbs.map(([label, href]) => (
              <span key={href}>
                <Link href={href}>{label}</Link> /{" "}
              </span>
            ))}
          </nav>
        )}
        <h1>{title}</h1>
      </div>
      {children && <div className="actions">{children}</div>}
    </header>
  );
}

/** Loading, error and empty states for a query, so every page says which one it is in. */
export function QueryState({ query, empty, children }: { query: { isPending: boolean; error: Error | null }; empty?: boolean | string; children: ReactNode }) {
  if (query.isPending) return <p className="muted" role="status">Loading…</p>;
  if (query.error) return <ErrorBox error={query.error} />;
  if (empty) return <p className="empty">{typeof empty === "string" ? empty : "Nothing here yet."}</p>;
  return <>{children}</>;
}

export function ErrorBox({ error }: { error: Error }) {
  return (
    <p className="error" role="alert">
      {error.message}
    </p>
  );
}

export function Tags({ tags }: { tags: string[] | undefined }) {
  if (!tags?.length) return null;
  return (
    <span className="tags">
      {tags.map((tag) => (
        <span className="tag" key={tag}>
          {tag}
        </span>
      ))}
    </span>
  );
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

export function formatRelative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const seconds = (Date.parse(iso) - now) / 1000;
  const abs = Math.abs(seconds);
  if (abs < 60) return relative.format(Math.round(seconds), "second");
  if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return relative.format(Math.round(seconds / 3600), "hour");
  return relative.format(Math.round(seconds / 86400), "day");
}

// One formatter for every timestamp: toLocaleString() with options builds a new one per call.
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  return dateTime.format(new Date(iso));
}

export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span className="muted">—</span>;
  return (
    <time dateTime={iso} title={formatTime(iso)}>
      {formatRelative(iso)}
    </time>
  );
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m ${Math.round(seconds % 60)}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function Json({ value }: { value: unknown }) {
  return <pre className="json">{JSON.stringify(value, null, 2)}</pre>;
}

/** Key/value pairs as a definition list. */
export function Fields({ items }: { items: Array<[string, ReactNode]> }) {
  return (
    <dl className="fields">
      {items.map(([key, value]) => (
        <div key={key}>
          <dt>{key}</dt>
          <dd>{value ?? <span className="muted">—</span>}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Text input whose value reaches the caller only after typing pauses, so each key is not a request. */
export function useDebounced<T>(value: T, ms = 250): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

export function Tabs<T extends string>({ tabs, value, onChange }: { tabs: Array<[T, string]>; value: T; onChange: (tab: T) => void }) {
  return (
    <div className="tabs" role="tablist">
      {tabs.map(([id, label]) => (
        <button
          key={id}
          role="tab"
          aria-selected={value === id}
          className={value === id ? "tab active" : "tab"}
          onClick={() => onChange(id)}
          onKeyDown={(event) => {
            const index = tabs.findIndex(([t]) => t === id);
            const next = event.key === "ArrowRight" ? tabs[(index + 1) % tabs.length] : event.key === "ArrowLeft" ? tabs[(index - 1 + tabs.length) % tabs.length] : undefined;
            if (next) {
              event.preventDefault();
              onChange(next[0]);
              (event.currentTarget.parentElement?.querySelector(`[data-tab="${next[0]}"]`) as HTMLElement | null)?.focus();
            }
          }}
          data-tab={id}
        >
          {label}
        </button>
      ))}
    </div>
  );
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}

/**
 * A checkbox for a server-side flag that shows the new value at once (so the click is seen
 * to work) and goes back to what the server says if the change fails.
 */
export function Toggle({ checked, label, onToggle }: { checked: boolean; label: string; onToggle: (next: boolean) => Promise<unknown> }) {
  const [pending, setPending] = useState<boolean>();
  const shown = pending ?? checked;
  useEffect(() => {
    if (pending !== undefined && pending === checked) setPending(undefined);
  }, [checked, pending]);
  return (
    <input
      type="checkbox"
      aria-label={label}
      checked={shown}
      onChange={() => {
        const next = !shown;
        setPending(next);
        onToggle(next).catch(() => setPending(undefined));
      }}
    />
  );
}
