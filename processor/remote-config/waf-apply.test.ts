import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLogger } from "../log.ts";
import { err, ok } from "../result.ts";
import type { WafConfigUpdate, WafEngine, WafUpdateOutcome } from "../waf/index.ts";
import { createWafApplier, createWafReplica } from "./waf-apply.ts";

/** An engine that records updates and fails the paths listed in `failing`. */
function recordingEngine(failing: ReadonlySet<string> = new Set()) {
  const calls: WafConfigUpdate[][] = [];
  const engine = {
    updateConfigs(updates: readonly WafConfigUpdate[]): WafUpdateOutcome[] {
      calls.push([...updates]);
      return updates.map((u) =>
        failing.has(u.path)
          ? { path: u.path, ...err("refused") }
          : { path: u.path, ...ok(undefined) },
      );
    },
  } as unknown as WafEngine;
  return { engine, calls };
}

const DD = "datadog/2/ASM_DD/r/config";
const DATA = "datadog/2/ASM_DATA/d/config";
const BAD = "datadog/2/ASM/bad/config";

test("the applier marks ASM_DD configs as rulesets and keeps only what was accepted", () => {
  const { engine, calls } = recordingEngine(new Set([BAD]));
  const applier = createWafApplier(engine);
  const outcomes = applier.apply([
    { kind: "apply", path: DD, product: "ASM_DD", config: { rules: [] } },
    { kind: "apply", path: DATA, product: "ASM_DATA", config: { rules_data: [] } },
    { kind: "apply", path: BAD, product: "ASM", config: {} },
  ]);
  assert.deepEqual(
    outcomes.map((o) => o.ok),
    [true, true, false],
  );
  assert.deepEqual(
    calls[0]?.map((u) => [u.path, u.ruleset]),
    [
      [DD, true],
      [DATA, false],
      [BAD, false],
    ],
  );
  assert.deepEqual(
    applier.snapshot().configs.map((c) => c.path),
    [DD, DATA],
  );
  applier.apply([{ kind: "remove", path: DATA, product: "ASM_DATA" }]);
  assert.deepEqual(
    applier.snapshot().configs.map((c) => c.path),
    [DD],
  );
});

test("a replica applies only the difference with what it holds", () => {
  const primary = recordingEngine();
  const applier = createWafApplier(primary.engine);
  const worker = recordingEngine();
  const replica = createWafReplica(worker.engine, silentLogger);

  applier.apply([
    { kind: "apply", path: DD, product: "ASM_DD", config: { v: 1 } },
    { kind: "apply", path: DATA, product: "ASM_DATA", config: { v: 1 } },
  ]);
  replica.sync(applier.snapshot());
  assert.deepEqual(
    worker.calls[0]?.map((u) => u.path),
    [DD, DATA],
  );

  replica.sync(applier.snapshot());
  assert.equal(worker.calls.length, 1, "same snapshot again: nothing to do");

  applier.apply([
    { kind: "apply", path: DATA, product: "ASM_DATA", config: { v: 2 } },
    { kind: "remove", path: DD, product: "ASM_DD" },
  ]);
  replica.sync(applier.snapshot());
  assert.deepEqual(
    worker.calls[1]?.map((u) => [u.path, u.config]),
    [
      [DD, undefined],
      [DATA, { v: 2 }],
    ],
  );
});
