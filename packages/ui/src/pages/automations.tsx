import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Link } from "wouter";
import { ApiError, api } from "../api";
import { usePost } from "../queries";
import { Table } from "../components/list-table";
import { ErrorBox, Json, PageHeader, QueryState, Toggle } from "../components/ui";

/** The fields of an automation (core's `Automation`) this page shows; its triggers are drawn loosely. */
interface Automation {
  id: string;
  name: string;
  description?: string | null;
  enabled: boolean;
  trigger: { type?: string; expect?: string[]; match?: Record<string, unknown>; posture?: string; threshold?: number; within?: number } & Record<string, unknown>;
  actions: Action[];
  actions_on_trigger?: Action[];
  actions_on_resolve?: Action[];
}

type Action = { type: string } & Record<string, unknown>;

/** The action types of a list, one a line; a dash for none. */
function ActionList({ actions }: { actions: Action[] }) {
  if (!actions.length) return <span className="muted">—</span>;
  return (
    <>
      {actions.map((action, i) => (
        <div key={i}>{action.type}</div>
      ))}
    </>
  );
}

function describeTrigger(trigger: Automation["trigger"]): string {
  const parts = [trigger.posture ?? trigger.type ?? "trigger"];
  if (trigger.expect?.length) parts.push(`on ${trigger.expect.join(", ")}`);
  if (trigger.threshold && trigger.threshold > 1) parts.push(`${trigger.threshold} times`);
  if (trigger.within) parts.push(`within ${trigger.within} s`);
  return parts.join(" ");
}

export default function AutomationsPage() {
  const queryClient = useQueryClient();
  const automations = usePost<Automation[]>("/automations/filter", { limit: 200 }, { retry: false, refetchInterval: (q) => (q.state.error ? false : 10_000) });
  const toggle = useMutation({
    mutationFn: (a: Automation) => api("PATCH", `/automations/${a.id}`, { enabled: !a.enabled }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["/automations/filter"] }),
  });
  const missing = automations.error instanceof ApiError && automations.error.status === 404;
  return (
    <>
      <PageHeader title="Automations" />
      {missing ? (
        <div className="empty" role="status">
          <p>Automations are not available on this server yet.</p>
          <p className="small">
            Its events still land: see <Link href="/events">Events</Link>.
          </p>
        </div>
      ) : (
        <QueryState query={automations} empty={automations.data?.length === 0 && "No automations."}>
          {toggle.error && <ErrorBox error={toggle.error} />}
          <Table
            rows={automations.data}
            rowKey={(a) => a.id}
            rowProps={(a) => ({ "data-automation": a.name })}
            columns={[
              {
                header: "Automation",
                cell: (a) => (
                  <>
                    {a.name}
                    {a.description && <div className="muted small">{a.description}</div>}
                  </>
                ),
              },
              { header: "Trigger", cellClassName: "small", cell: (a) => describeTrigger(a.trigger) },
              // `actions` and `actions_on_trigger` both run when the trigger fires.
              { header: "On trigger", cellClassName: "small", cell: (a) => <ActionList actions={[...a.actions, ...(a.actions_on_trigger ?? [])]} /> },
              { header: "On resolve", cellClassName: "small", cell: (a) => <ActionList actions={a.actions_on_resolve ?? []} /> },
              { header: "Enabled", cell: (a) => <Toggle checked={a.enabled} label={`${a.name} enabled`} onToggle={() => toggle.mutateAsync(a)} /> },
            ]}
          />
          {automations.data && automations.data.length > 0 && (
            <details>
              <summary>As JSON</summary>
              <Json value={automations.data} />
            </details>
          )}
        </QueryState>
      )}
    </>
  );
}
