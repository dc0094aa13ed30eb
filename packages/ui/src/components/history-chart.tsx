import { useEffect, useRef, useState } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { HistoryInterval } from "@baton/core";
import { STATE_TYPES, titleCase } from "./ui";

/** Bumps when the theme changes (the page's data-theme or the system's scheme), so canvases repaint in its colours. */
function useThemeVersion(): number {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const bump = () => setVersion((v) => v + 1);
    const observer = new MutationObserver(bump);
    observer.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
    const media = window.matchMedia("(prefers-color-scheme: dark)");
    media.addEventListener("change", bump);
    return () => {
      observer.disconnect();
      media.removeEventListener("change", bump);
    };
  }, []);
  return version;
}

const css = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";

/**
 * Runs over time as stacked bars, one colour per state type (uPlot on a canvas: thousands of
 * buckets cost nothing to draw). Stacks are summed here since uPlot draws series as given.
 */
export function HistoryChart({ history, height = 200 }: { history: HistoryInterval[]; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const theme = useThemeVersion();
  const present = STATE_TYPES.filter((type) => history.some((h) => h.states.some((s) => s.state_type === type && s.count_runs > 0)));

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const xs = history.map((h) => Date.parse(h.interval_start) / 1000);
    const counts = present.map((type) => history.map((h) => h.states.filter((s) => s.state_type === type).reduce((sum, s) => sum + s.count_runs, 0)));
    const stacked: number[][] = [];
    counts.forEach((row, i) => stacked.push(row.map((n, j) => n + (i > 0 ? stacked[i - 1]![j]! : 0))));
    const text = css("--muted");
    const grid = css("--border");
    const bars = uPlot.paths.bars!({ size: [0.8, 60], gap: 1 });
    // The tallest stack is drawn first, each lower one over it.
    const order = present.map((_, i) => i).reverse();
    const plot = new uPlot(
      {
        width: element.clientWidth || 600,
        height,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        axes: [
          { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
          { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 40 },
        ],
        series: [{}, ...order.map((i) => ({ label: titleCase(present[i]!), fill: css(`--state-${present[i]!.toLowerCase()}`), stroke: css(`--state-${present[i]!.toLowerCase()}`), width: 0, paths: bars, points: { show: false } }))],
      },
      [xs, ...order.map((i) => stacked[i]!)],
      element,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: element.clientWidth, height }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
    // present is derived from history; theme repaints with the new colours.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [history, height, theme]);

  const total = history.reduce((sum, h) => sum + h.states.reduce((s, x) => s + x.count_runs, 0), 0);
  return (
    <figure style={{ margin: 0 }} aria-label={`Flow runs over time: ${total} runs`}>
      <div ref={box} className="chart" data-total-runs={total} />
      <figcaption className="legend">
        {present.map((type) => (
          <span key={type}>
            <i style={{ background: `var(--state-${type.toLowerCase()})` }} />
            {titleCase(type)}
          </span>
        ))}
        {present.length === 0 && <span className="muted">No runs in this range.</span>}
      </figcaption>
    </figure>
  );
}
