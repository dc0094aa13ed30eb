import {
  ObjectNotFoundError,
  OrchestrationResult,
  SetStateBody,
  TaskRun,
  TaskRunCountBody,
  TaskRunCreate,
  TaskRunFilterBody,
  TaskRunPaginateBody,
  TaskRunUpdate,
  HistoryInterval,
} from "@baton/core";
import { z } from "zod";
import { readFlowRunRow, runHistory } from "../db/queries/flow-runs.js";
import { countTaskRuns, deleteTaskRun, filterTaskRuns, newTaskRunRow, readTaskRun, taskRunFromRow, updateTaskRun } from "../db/queries/task-runs.js";
import { setRunState } from "../orchestration/set-state.js";
import { createRunWithState } from "../orchestration/create-run.js";
import type { Selectable } from "kysely";
import type { TaskRunTable } from "../db/schema.js";
import type { ApiContext } from "./context.js";
import { HistoryRequestBody } from "./history.js";
import { registerQueryRoutes } from "./query-routes.js";
import { IdParams } from "./params.js";

export function registerTaskRunRoutes({ router, db, backgroundTasks, events }: ApiContext): void {
  router.route({
    method: "POST",
    path: "/task_runs/history",
    tag: "Task Runs",
    summary: "Task run counts per state over time buckets",
    body: HistoryRequestBody,
    response: z.array(HistoryInterval),
    handler: ({ body }) => runHistory(db, "task_run", body, { start: body.history_start, end: body.history_end, intervalSeconds: body.history_interval_seconds }),
  });
  router.route({
    method: "POST",
    path: "/task_runs/",
    tag: "Task Runs",
    summary: "Create a task run (idempotent on flow_run_id + task_key + dynamic_key: the existing run is returned, 200)",
    body: TaskRunCreate,
    response: TaskRun,
    status: 201,
    handler: async ({ body, reply }) => {
      if (body.flow_run_id && !(await readFlowRunRow(db.kysely, body.flow_run_id))) {
        throw new ObjectNotFoundError("Flow run", body.flow_run_id);
      }
      const row = newTaskRunRow({ ...body, name: body.name ?? `${body.task_key}-${body.dynamic_key}` }, new Date().toISOString());
      const { row: stored, created } = await createRunWithState(db, { kind: "task_run", row }, body.state ?? { type: "PENDING" }, events);
      if (!created) reply.code(200);
      const taskRun = taskRunFromRow(stored as Selectable<TaskRunTable>);
      if (created) backgroundTasks.noteState(taskRun);
      return taskRun;
    },
  });
  router.route({
    method: "GET",
    path: "/task_runs/{id}",
    tag: "Task Runs",
    summary: "Read a task run",
    params: IdParams,
    response: TaskRun,
    handler: async ({ params }) => (await readTaskRun(db.kysely, params.id)) ?? notFound(params.id),
  });
  router.route({
    method: "PATCH",
    path: "/task_runs/{id}",
    tag: "Task Runs",
    summary: "Update a task run",
    params: IdParams,
    body: TaskRunUpdate,
    status: 204,
    handler: async ({ params, body }) => {
      if (!(await updateTaskRun(db.kysely, params.id, body))) notFound(params.id);
    },
  });
  router.route({
    method: "DELETE",
    path: "/task_runs/{id}",
    tag: "Task Runs",
    summary: "Delete a task run",
    params: IdParams,
    status: 204,
    handler: async ({ params }) => {
      if (!(await deleteTaskRun(db.kysely, params.id))) notFound(params.id);
    },
  });
  registerQueryRoutes(router, {
    base: "/task_runs",
    tag: "Task Runs",
    noun: "task runs",
    item: TaskRun,
    filterBody: TaskRunFilterBody,
    countBody: TaskRunCountBody,
    paginateBody: TaskRunPaginateBody,
    filter: (criteria, page) => filterTaskRuns(db, criteria, page),
    count: (criteria) => countTaskRuns(db, criteria),
  });
  router.route({
    method: "POST",
    path: "/task_runs/{id}/set_state",
    tag: "Task Runs",
    summary: "Propose a new state; the orchestration rules answer ACCEPT, REJECT, WAIT or ABORT",
    params: IdParams,
    body: SetStateBody,
    response: OrchestrationResult,
    status: 201,
    handler: async ({ params, body, reply }) => {
      const result = await setRunState(db, "task_run", params.id, body.state, { force: body.force, events });
      await backgroundTasks.noteStateOf(params.id, result.state);
      if (result.status !== "ACCEPT") reply.code(200);
      return result;
    },
  });
}

function notFound(id: string): never {
  throw new ObjectNotFoundError("Task run", id);
}
