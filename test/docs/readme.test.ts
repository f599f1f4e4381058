import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { PROTOCOL_ERROR_CODES, STARTUP_ERROR_CODES } from "../../processor/errors.ts";
import { README, regenerate } from "../../tools/readme.ts";

const readme = readFileSync(README, "utf8");

test("the README's configuration table matches the settings table (run `npm run docs`)", () => {
  assert.equal(readme, regenerate(readme));
});

test("every error code is documented in the README's Errors section", () => {
  const errors = readme.slice(readme.indexOf("## Errors"));
  for (const code of [...PROTOCOL_ERROR_CODES, ...STARTUP_ERROR_CODES]) {
    assert.ok(errors.includes(`\`${code}\``), `README.md Errors section lacks ${code}`);
  }
});
