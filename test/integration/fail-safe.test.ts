/**
 * Settings that would switch inspection off in effect stop the real processor with exit code 2
 * and say why; documented ways of inspecting less start, with a warning.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { spawnProcessor, startProcessor } from "../support/processor-process.ts";

for (const [env, variable] of [
  [{ DD_APPSEC_WAF_TIMEOUT: "0" }, "DD_APPSEC_WAF_TIMEOUT"],
  [
    {
      DD_APPSEC_BODY_PARSING_SIZE_LIMIT: "1000000",
      DD_SERVICE_EXTENSION_BODY_MEMORY_LIMIT: "1000",
    },
    "DD_SERVICE_EXTENSION_BODY_MEMORY_LIMIT",
  ],
  [
    { DD_APPSEC_OBFUSCATION_PARAMETER_KEY_REGEXP: "(?=pass)" },
    "DD_APPSEC_OBFUSCATION_PARAMETER_KEY_REGEXP",
  ],
] as const) {
  test(`${JSON.stringify(env)} exits 2 naming ${variable}`, async (t) => {
    const processor = spawnProcessor({ ...env, DD_SERVICE_EXTENSION_PORT: "0" });
    t.after(() => processor.stop());
    assert.equal(await processor.exited, 2);
    const error = processor.logs.find((line) => line.level === "error");
    assert.equal(error?.variable, variable);
    assert.match(String(error?.msg), new RegExp(`^invalid ${variable}=`));
  });
}

test("a body limit of 0 starts, with a warning", async (t) => {
  const processor = await startProcessor({
    DD_SERVICE_EXTENSION_TLS: "false",
    DD_APPSEC_BODY_PARSING_SIZE_LIMIT: "0",
  });
  t.after(() => processor.stop());
  assert.ok(
    processor.logs.some(
      (line) => line.level === "warn" && /body inspection is OFF/.test(String(line.msg)),
    ),
  );
});
