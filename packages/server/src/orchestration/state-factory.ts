import { completeStateDetails, defaultStateName, type State, type StateCreate, type StateDetails, type StateType } from "@baton/core";
import { newId } from "../db/json.js";

/** Turns a proposal into a full state: an id, a timestamp, a name, run ids in its details. */
export function stateFromProposal(proposal: StateCreate, now: Date, runRef: StateDetails): State {
  const details: StateDetails = completeStateDetails({ ...proposal.state_details, ...runRef });
  if (proposal.type === "SCHEDULED" && !details.scheduled_time) details.scheduled_time = now.toISOString();
  return {
    id: newId(),
    type: proposal.type,
    name: proposal.name ?? defaultStateName(proposal.type),
    timestamp: now.toISOString(),
    message: proposal.message ?? null,
    data: proposal.data ?? null,
    state_details: details,
  };
}

/** A state the server writes on its own account (AwaitingRetry, Cancelled, Cached...). */
export function makeState(type: StateType, name: string, now: Date, fields: { message?: string | null; data?: unknown; details?: StateDetails } = {}): State {
  return {
    id: newId(),
    type,
    name,
    timestamp: now.toISOString(),
    message: fields.message ?? null,
    data: fields.data ?? null,
    // A substitute state is a new transition of the server's own: it must not carry the
    // client's transition id, or a retried request would look like a replay of it.
    state_details: completeStateDetails({ ...fields.details, transition_id: null }),
  };
}
