import { useQuery, type UseQueryOptions } from "@tanstack/react-query";
import { get, post } from "./api";

/** How often live pages poll (TanStack Query's refetchInterval); paused while the tab is hidden. */
export const LIVE_MS = 3_000;

type Extra<T> = Omit<UseQueryOptions<T, Error, T, readonly unknown[]>, "queryKey" | "queryFn">;

/** A `POST .../filter`-style read, keyed by path and body. */
export function usePost<T>(path: string, body: unknown, options: Extra<T> = {}) {
  return useQuery<T, Error, T, readonly unknown[]>({
    queryKey: [path, body],
    queryFn: ({ signal }) => post<T>(path, body, signal),
    ...options,
  });
}

export function useGet<T>(path: string, options: Extra<T> = {}) {
  return useQuery<T, Error, T, readonly unknown[]>({
    queryKey: [path],
    queryFn: ({ signal }) => get<T>(path, signal),
    ...options,
  });
}
