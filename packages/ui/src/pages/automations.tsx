import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Link } from "wouter";
import { ApiError, api } from "../api";
import { usePost } from "../queries";
import { ErrorBox, Json, PageHeader, QueryState, Toggle } from "../components/ui";

/** An automation as Prefect's API returns it (Baton's core has no schema for it yet). */
interface Automation {
  id: string;
  name: string;
  description?: string | null;
  enabled: boolean;
  trigger: { type?: string; expect?: string[]; match?: Record<string, unknown>; posture?: string; threshold?: number; within?: number } & Record<string, unknown>;
  actions: Array<{ type: string } & Record<string, unknown>>;
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
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>Automation</th>
                  <th>Trigger</th>
                  <th>Actions</th>
                  <th>Enabled</th>
                </tr>
              </thead>
              <tbody>
                {automations.data?.map((a) => (
                  <tr key={a.id} data-automation={a.name}>
                    <td>
                      {a.name}
                      {a.description && <div className="muted small">{a.description}</div>}
                    </td>
                    <td className="small">{describeTrigger(a.trigger)}</td>
                    <td className="small">
                      {a.actions.map((action, i) => (
                        <div key={i}>{action.type}</div>
                      ))}
                    </td>
                    <td>
                      <Toggle checked={a.enabled} label={`${a.name} enabled`} onToggle={() => toggle.mutateAsync(a)} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
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
