import { useQueryClient } from "@tanstack/react-query";
import { confirmed } from "./confirm";

/** A red Delete button that asks first (`question`) and only then calls `onDelete`. */
export function DeleteButton({ question, onDelete }: { question: string; onDelete: () => void }) {
  return (
    <button className="danger" onClick={() => confirmed(question) && onDelete()}>
      Delete
    </button>
  );
}

/** Refetches every query whose path (the key's first part) `matches`, after a change made on this page. */
export function useRefresh(matches: (path: string) => boolean): () => Promise<void> {
  const queryClient = useQueryClient();
  return () => queryClient.invalidateQueries({ predicate: (q) => matches(String(q.queryKey[0])) });
}
