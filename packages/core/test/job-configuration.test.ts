import { describe, expect, it } from "vitest";
import { processBaseJobTemplate, renderJobConfiguration } from "../src/index.js";

describe("renderJobConfiguration", () => {
  it("fills a process pool's template from the variables' defaults and the run's job variables", () => {
    expect(renderJobConfiguration(processBaseJobTemplate(), {})).toEqual({ stream_output: true });
    expect(renderJobConfiguration(processBaseJobTemplate(), { env: { A: "1" }, working_dir: "/srv", stream_output: false, unknown: 1 })).toEqual({
      env: { A: "1" },
      working_dir: "/srv",
      stream_output: false,
    });
  });

  it("takes a whole-placeholder value as it is, interpolates others, and leaves out what has no value", () => {
    const template = {
      job_configuration: {
        env: "{{ env }}",
        name: "run-{{ name }}-{{ missing }}",
        count: "{{ count }}",
        nested: { list: ["{{ count }}", "{{ missing }}"], block: "{{ prefect.blocks.secret.x }}", home: "{{ $HOME }}", unsetEnv: "{{ $NOPE }}" },
        deep: "{{ image.tag }}",
        indexed: "{{ args[1] }}-{{ args.0 }}",
        gone: "{{ missing }}",
        cleared: "{{ cleared }}",
      },
      variables: {
        properties: {
          env: { type: "object", default: { POOL: "pool" } },
          name: { type: "string" },
          count: { type: "integer", default: 3 },
          missing: { type: "string" },
          cleared: { type: "string", default: "x" },
          image: { type: "object", default: { tag: "v1" } },
          args: { type: "array", default: ["a", "b"] },
        },
      },
    };
    expect(renderJobConfiguration(template, { name: "etl", cleared: null }, { HOME: "/home/w" })).toEqual({
      env: { POOL: "pool" },
      // A placeholder without a value inside a longer string becomes nothing, as in Prefect.
      name: "run-etl-",
      count: 3,
      nested: { list: [3], block: "{{ prefect.blocks.secret.x }}", home: "/home/w", unsetEnv: "" },
      deep: "v1",
      indexed: "b-a",
      // A variable set to null keeps its key (Prefect's None).
      cleared: null,
    });
    // Top-level variables replace the defaults whole: an env of the run's own is not merged with the pool's.
    expect(renderJobConfiguration(template, { env: { RUN: "run" } })["env"]).toEqual({ RUN: "run" });
  });

  it("renders an empty template (a pool created with {}) to the job variables themselves", () => {
    expect(renderJobConfiguration({}, { env: { A: "1" }, working_dir: "/x" })).toEqual({ env: { A: "1" }, working_dir: "/x" });
  });
});
