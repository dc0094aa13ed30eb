import { TaskWorkerFilterBody, TaskWorkerResponse } from "@baton/core";
import { z } from "zod";
import type { ApiContext } from "./context.js";

/** `/api/task_workers/...`: the task workers connected to this server's task run subscription. */
export function registerTaskWorkerRoutes({ router, backgroundTasks }: ApiContext): void {
  router.route({
    method: "POST",
    path: "/task_workers/filter",
    tag: "Task Workers",
    summary: "Task workers connected now, those serving any of task_worker_filter.task_keys when given",
    body: TaskWorkerFilterBody,
    response: z.array(TaskWorkerResponse),
    handler: ({ body }) => backgroundTasks.listWorkers(body.task_worker_filter?.task_keys),
  });
}
