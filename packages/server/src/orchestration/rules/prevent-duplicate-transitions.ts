import type { OrchestrationRule } from "../context.js";
import { reject } from "../context.js";

/**
 * A client that retries a request after a lost response proposes the same transition id
 * again; the run already made that move, so the proposal is refused and the current state
 * returned, which is exactly what the client wanted.
 */
export const preventDuplicateTransitions: OrchestrationRule = {
  name: "PreventDuplicateTransitions",
  from: "any",
  to: "any",
  before({ initial, proposed }) {
    const id = proposed.state_details.transition_id;
    if (id && initial?.state_details.transition_id === id) {
      return reject("This run has already made this transition (same transition_id).");
    }
  },
};
