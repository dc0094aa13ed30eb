import { useRef, useState } from "react";
import { Link } from "wouter";
import type { EventPage, ReceivedEvent } from "@baton/core";
import { LIVE_MS, usePost } from "../queries";
import { Json, PageHeader, QueryState, Time, formatTime, useDebounced } from "../components/ui";

const RANGES: Array<[string, string, number]> = [
  ["1h", "Past hour", 3600],
  ["24h", "Past day", 86400],
  ["7d", "Past 7 days", 7 * 86400],
];

/** The resource a Prefect event names, linked when it is one of Baton's pages. */
function resourceLink(resource: Record<string, string>) {
  const id = resource["prefect.resource.id"] ?? "";
  const name = resource["prefect.resource.name"] ?? id;
  const [kind, ...rest] = id.split(".").slice(1);
  const objectId = rest.join(".");
  const href = kind === "flow-run" ? `/runs/${objectId}` : kind === "deployment" ? `/deployments/${objectId}` : kind === "flow" ? `/flows/${objectId}` : kind === "work-pool" ? `/work-pools` : undefined;
  return href ? <Link href={href}>{name}</Link> : <span>{name}</span>;
}

/** Events as they land: polled every few seconds, the newest first, new ones marked. */
export default function EventsPage() {
  const [text, setText] = useState("");
  const [range, setRange] = useState("24h");
  const prefix = useDebounced(text.trim());
  const seconds = RANGES.find(([id]) => id === range)?.[2] ?? 86400;
  const since = new Date(Math.floor((Date.now() - seconds * 1000) / 60_000) * 60_000).toISOString();
  const events = usePost<EventPage>("/events/filter", { filter: { occurred: { since }, ...(prefix ? { event: { prefix: [prefix] } } : {}), order: "DESC" }, limit: 50 }, { refetchInterval: LIVE_MS, placeholderData: (p) => p });
  const [open, setOpen] = useState<string>();
  // Ids seen on the first answer: anything after them is new since the page opened.
  const firstSeen = useRef<Set<string> | null>(null);
  if (events.data && firstSeen.current === null) firstSeen.current = new Set(events.data.events.map((e) => e.id));
  const list: ReceivedEvent[] = events.data?.events ?? [];
  return (
    <>
      <PageHeader title="Events">
        <span className="muted" aria-live="polite">
          {events.data ? `${events.data.total.toLocaleString()} events · live` : ""}
        </span>
      </PageHeader>
      <div className="filters">
        <input data-search placeholder="Event prefix, e.g. prefect.flow-run." aria-label="Event prefix" value={text} onChange={(e) => setText(e.target.value)} style={{ minWidth: 260 }} />
        <select aria-label="Time range" value={range} onChange={(e) => setRange(e.target.value)}>
          {RANGES.map(([id, label]) => (
            <option key={id} value={id}>
              {label}
            </option>
          ))}
        </select>
      </div>
      <QueryState query={events} empty={list.length === 0 && "No events in this range."}>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Event</th>
                <th>Resource</th>
                <th>Occurred</th>
              </tr>
            </thead>
            <tbody>
              {list.map((event) => (
                <EventRow key={event.id} event={event} fresh={!firstSeen.current?.has(event.id)} open={open === event.id} onToggle={() => setOpen(open === event.id ? undefined : event.id)} />
              ))}
            </tbody>
          </table>
        </div>
      </QueryState>
    </>
  );
}

function EventRow({ event, fresh, open, onToggle }: { event: ReceivedEvent; fresh: boolean; open: boolean; onToggle: () => void }) {
  return (
    <>
      <tr data-event={event.event} className={fresh ? "fresh" : undefined}>
        <td>
          <button className="tab" aria-expanded={open} onClick={onToggle} style={{ padding: 0 }}>
            {open ? "▾" : "▸"} {event.event}
          </button>
        </td>
        <td>{resourceLink(event.resource as Record<string, string>)}</td>
        <td title={formatTime(event.occurred)}>
          <Time iso={event.occurred} />
        </td>
      </tr>
      {open && (
        <tr>
          <td colSpan={3}>
            <Json value={{ resource: event.resource, related: event.related, payload: event.payload }} />
          </td>
        </tr>
      )}
    </>
  );
}
