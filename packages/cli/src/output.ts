import { defaultStateName, type StateType } from "@baton/core";
import type { Output } from "./context.js";

/** Shown in a table cell that has no value. */
export const NONE = "-";

/**
 * Aligned columns for people: a header row, then one row per item, two spaces between
 * columns, no trailing spaces. Columns listed in `rightAlign` (by index) are right-aligned.
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[], rightAlign: readonly number[] = []): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    widths
      .map((width, i) => {
        const cell = cells[i] ?? "";
        return rightAlign.includes(i) ? cell.padStart(width) : cell.padEnd(width);
      })
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n") + "\n";
}

/**
 * `key: value` lines with the values aligned, for one object (`flow-run inspect`). A value of
 * several lines (a traceback) keeps its later lines under its first.
 */
export function formatDetails(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...pairs.map(([key]) => key.length + 1));
  const continuation = `\n${" ".repeat(width + 2)}`;
  return (
    pairs
      .map(([key, value]) => `${`${key}:`.padEnd(width)}  ${value.split("\n").map((line) => line.trimEnd()).join(continuation)}`.trimEnd())
      .join("\n") + "\n"
  );
}

/** Raw API objects for scripts: pretty-printed JSON and a newline. */
export function writeJson(out: Output, value: unknown): void {
  out.write(JSON.stringify(value, null, 2) + "\n");
}

/** An ISO timestamp as local time, `2026-01-31 14:05:09`; `-` for none. */
export function formatTimestamp(iso: string | null | undefined, withMillis = false): string {
  if (iso == null) return NONE;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const base = `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())} ${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}`;
  return withMillis ? `${base}.${p(date.getMilliseconds(), 3)}` : base;
}

/** Seconds as `850ms`, `4.2s`, `3m 07s` or `2h 05m`. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return NONE;
  if (seconds < 1) return `${Math.round(seconds * 1000)}ms`;
  if (seconds < 60) return `${(Math.round(seconds * 10) / 10).toFixed(1)}s`;
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  return h > 0 ? `${h}h ${String(m).padStart(2, "0")}m` : `${m}m ${String(s).padStart(2, "0")}s`;
}

/** A run's state as people know it: its name ("Late", "Cached") or its type's display name. */
export function formatState(type: StateType | null | undefined, name: string | null | undefined): string {
  if (name != null && name !== "") return name;
  return type == null ? NONE : defaultStateName(type);
}

/**
 * How long a run has taken: its total run time once it has started, counting the time
 * spent in the current RUNNING state (the server's `estimated_run_time`); `-` before start.
 */
export function runDuration(run: {
  start_time: string | null;
  state_type: StateType | null;
  total_run_time: number;
  estimated_run_time: number;
}): string {
  if (run.start_time === null) return NONE;
  return formatDuration(run.state_type === "RUNNING" ? run.estimated_run_time : run.total_run_time);
}

/** Python logging level names, which Prefect's log records carry as numbers. */
export function levelName(level: number): string {
  switch (level) {
    case 10:
      return "DEBUG";
    case 20:
      return "INFO";
    case 30:
      return "WARNING";
    case 40:
      return "ERROR";
    case 50:
      return "CRITICAL";
    default:
      return `Level ${level}`;
  }
}
