import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLogger } from "../log.ts";
import { ADDRESSES } from "./addresses.ts";
import { createWafContext } from "./context.ts";
import { buildHandle } from "./handle.ts";
import type { NativeBinding, NativeContext, NativeHandle } from "./native.ts";

const OPTIONS = { obfuscatorKeyRegex: "k", obfuscatorValueRegex: "v" };
const RULES = { version: "2.2", rules: [{ id: "r1" }] };

/** A binding whose handle counts what libddwaf would be asked to free. */
function fakeBinding() {
  const freed = { handles: 0, contexts: 0 };
  const context = (): NativeContext => {
    let disposed = false;
    return {
      get disposed() {
        return disposed;
      },
      run: () => ({ timeout: false, duration: 1000, events: [], actions: {} }),
      dispose: () => {
        disposed = true;
        freed.contexts += 1;
      },
    };
  };
  const handle: NativeHandle = {
    disposed: false,
    diagnostics: { ruleset_version: "1.0.0", rules: { loaded: ["r1"], failed: [] } },
    knownAddresses: new Set<string>([ADDRESSES.REQUEST_METHOD]),
    createContext: context,
    createOrUpdateConfig: () => true,
    removeConfig: () => true,
    dispose() {
      (this as { disposed: boolean }).disposed = true;
      freed.handles += 1;
    },
  };
  const binding: NativeBinding = { version: () => "0.0.0", create: () => handle };
  return { binding, freed };
}

test("a retired handle with no context is freed at once", () => {
  const { binding, freed } = fakeBinding();
  const handle = buildHandle(binding, RULES, OPTIONS, silentLogger);
  assert.equal(handle.info.loadedRules, 1);
  handle.retire();
  assert.equal(freed.handles, 1);
});

test("a retired handle is freed when its last context is disposed, once", () => {
  const { binding, freed } = fakeBinding();
  const handle = buildHandle(binding, RULES, OPTIONS, silentLogger);
  const a = createWafContext(handle, silentLogger);
  const b = createWafContext(handle, silentLogger);
  handle.retire();
  a.dispose();
  a.dispose();
  assert.equal(freed.handles, 0);
  b.dispose();
  assert.deepEqual(freed, { handles: 1, contexts: 2 });
  handle.retire();
  assert.equal(freed.handles, 1);
});

test("a context libddwaf refuses to create is born disposed and not counted", () => {
  const { binding, freed } = fakeBinding();
  const handle = buildHandle(binding, RULES, OPTIONS, silentLogger);
  const failing = {
    ...handle,
    acquire: () => {
      throw new Error("Calling createContext on a disposed DDWAF instance");
    },
  };
  const context = createWafContext(failing, silentLogger);
  assert.equal(context.run({ [ADDRESSES.REQUEST_METHOD]: "GET" }, 1000).errorCode, -100);
  context.dispose();
  handle.retire();
  assert.equal(freed.handles, 1);
});

test("a binding that throws during a run gives BINDING_THREW, not an exception", () => {
  const { binding } = fakeBinding();
  const handle = buildHandle(binding, RULES, OPTIONS, silentLogger);
  const throwing = {
    ...handle,
    acquire: () => ({
      ...handle.acquire(),
      native: {
        disposed: false,
        run: () => {
          throw new TypeError("boom");
        },
        dispose: () => {},
      },
    }),
  };
  const context = createWafContext(throwing, silentLogger);
  assert.equal(context.run({ [ADDRESSES.REQUEST_METHOD]: "GET" }, 1000).errorCode, -127);
  context.dispose();
});

test("addresses read by rules: every condition input of rules and custom rules, not processors", async () => {
  const { addressesReadByRules } = await import("./handle.ts");
  const addresses = addressesReadByRules({
    rules: [
      { conditions: [{ parameters: { inputs: [{ address: "server.request.query" }] } }] },
      { conditions: "not a list" },
      null,
    ],
    custom_rules: [
      {
        conditions: [
          { parameters: { inputs: [{ address: "server.response.body" }, { address: 7 }] } },
        ],
      },
    ],
    processors: [
      {
        parameters: { mappings: [{ inputs: [{ address: "server.response.headers.no_cookies" }] }] },
      },
    ],
  });
  assert.deepEqual([...addresses].sort(), ["server.request.query", "server.response.body"]);
});

test("the recommended rules read neither the response body nor the response headers", async () => {
  const { addressesReadByRules } = await import("./handle.ts");
  const { readRulesFile, recommendedRulesPath } = await import("./ruleset.ts");
  const addresses = addressesReadByRules(readRulesFile(recommendedRulesPath()));
  assert.ok(addresses.has("server.request.body"));
  assert.ok(addresses.has("server.response.status"));
  assert.ok(!addresses.has("server.response.body"));
  assert.ok(!addresses.has("server.response.headers.no_cookies"));
});
