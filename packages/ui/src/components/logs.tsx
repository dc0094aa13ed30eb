import { useEffect, useRef, useState } from "react";
import type { Log } from "@baton/core";
import { post } from "../api";
import { ErrorBox } from "./ui";

const LEVELS: Record<number, string> = { 10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL" };
const clock = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
const levelName = (level: number) => LEVELS[level] ?? `L${level}`;

/**
 * A run's logs, streamed: it reads every page once, then asks only for what came after the
 * newest it has (every 2 s while `live`), skipping ids it already holds, and keeps to the
 * bottom unless the reader scrolled up.
 */
export function LogStream({ flowRunId, taskRunId, live }: { flowRunId: string; taskRunId?: string; live: boolean }) {
  const [logs, setLogs] = useState<Log[]>([]);
  const [error, setError] = useState<Error | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [minLevel, setMinLevel] = useState(0);
  const box = useRef<HTMLPreElement>(null);
  const stick = useRef(true);

  useEffect(() => {
    let stopped = false;
    let newest: string | undefined;
    const seen = new Set<string>();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const controller = new AbortController();
    const pull = async () => {
      try {
        for (;;) {
          const page = await post<Log[]>(
            "/logs/filter",
            {
              logs: { flow_run_id: { any_: [flowRunId] }, ...(taskRunId ? { task_run_id: { any_: [taskRunId] } } : {}), ...(newest ? { timestamp: { after_: newest } } : {}) },
              sort: "TIMESTAMP_ASC",
              limit: 200,
            },
            controller.signal,
          );
          const fresh = page.filter((log) => !seen.has(log.id));
          for (const log of fresh) seen.add(log.id);
          if (fresh.length) setLogs((current) => [...current, ...fresh]);
          const last = page.at(-1);
          if (last) newest = last.timestamp;
          // A full page of logs all at one timestamp cannot advance `newest`; stop instead of looping.
          if (page.length < 200 || fresh.length === 0) break;
        }
        setError(null);
      } catch (e) {
        if (!stopped) setError(e as Error);
      }
      setLoaded(true);
      if (!stopped && live) timer = setTimeout(() => void pull(), 2_000);
    };
    void pull();
    return () => {
      stopped = true;
      controller.abort();
      clearTimeout(timer);
    };
  }, [flowRunId, taskRunId, live]);

  useEffect(() => {
    if (stick.current && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [logs]);

  const shown = minLevel ? logs.filter((log) => log.level >= minLevel) : logs;
  return (
    <div>
      <div className="filters">
        <label>
          Level
          <select value={minLevel} onChange={(e) => setMinLevel(Number(e.target.value))} aria-label="Log level">
            <option value={0}>All</option>
            <option value={20}>Info and above</option>
            <option value={30}>Warnings and errors</option>
            <option value={40}>Errors</option>
          </select>
        </label>
        <span className="muted small" aria-live="polite">
          {logs.length} lines{live ? " · live" : ""}
        </span>
      </div>
      {error && <ErrorBox error={error} />}
      <pre
        className="logs"
        ref={box}
        tabIndex={0}
        aria-label="Logs"
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 30;
        }}
      >
        {!loaded ? "Loading…" : shown.length === 0 ? "No logs." : null}
        {shown.map((log) => (
          <div key={log.id} className={`log-line log-${levelName(log.level)}`}>
            <span className="muted">{clock.format(new Date(log.timestamp))}</span>
            <span>{levelName(log.level)}</span>
            <span>{log.message}</span>
          </div>
        ))}
      </pre>
    </div>
  );
}
