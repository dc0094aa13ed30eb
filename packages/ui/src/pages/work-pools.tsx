import type { WorkPool } from "@baton/core";
import { usePost } from "../queries";
import { PoolHealthTable } from "../components/work-pool-health";
import { PageHeader, QueryState } from "../components/ui";

export default function WorkPoolsPage() {
  const pools = usePost<WorkPool[]>("/work_pools/filter", { limit: 200 }, { refetchInterval: 5_000 });
  return (
    <>
      <PageHeader title="Work pools" />
      <QueryState query={pools} empty={pools.data?.length === 0 && "No work pools. Create one with `baton work-pool create NAME --type process`."}>
        {pools.data && <PoolHealthTable pools={pools.data} />}
      </QueryState>
    </>
  );
}
