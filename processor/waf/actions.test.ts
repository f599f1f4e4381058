import assert from "node:assert/strict";
import { test } from "node:test";
import { actionsFromWaf, type WafAction } from "./actions.ts";

const ID = "0b5e2b1a-1c3e-4e1f-9d7a-2f4c7e9a1b2c";

const cases: Array<{ name: string; actions: unknown; expected: WafAction[] }> = [
  { name: "no actions map", actions: undefined, expected: [] },
  { name: "empty map", actions: {}, expected: [] },
  {
    name: "an array (index.d.ts shape) is not a map",
    actions: [{ block_request: {} }],
    expected: [],
  },
  {
    name: "libddwaf default block",
    actions: {
      block_request: {
        status_code: 403,
        type: "auto",
        grpc_status_code: 10,
        security_response_id: ID,
      },
    },
    expected: [{ kind: "block", status: 403, type: "auto", securityResponseId: ID }],
  },
  {
    name: "block without parameters defaults to 403 auto",
    actions: { block_request: {} },
    expected: [{ kind: "block", status: 403, type: "auto" }],
  },
  {
    name: "custom block 418 json",
    actions: { block_request: { status_code: 418, type: "json" } },
    expected: [{ kind: "block", status: 418, type: "json" }],
  },
  {
    name: "block html with a string status",
    actions: { block_request: { status_code: "401", type: "html" } },
    expected: [{ kind: "block", status: 401, type: "html" }],
  },
  {
    name: "unknown type means auto",
    actions: { block_request: { status_code: 403, type: "xml" } },
    expected: [{ kind: "block", status: 403, type: "auto" }],
  },
  {
    name: "invalid block status falls back to 403",
    actions: { block_request: { status_code: -5 } },
    expected: [{ kind: "block", status: 403, type: "auto" }],
  },
  {
    name: "out-of-range block status falls back to 403",
    actions: { block_request: { status_code: 9999 } },
    expected: [{ kind: "block", status: 403, type: "auto" }],
  },
  {
    name: "empty security_response_id is dropped",
    actions: { block_request: { security_response_id: "" } },
    expected: [{ kind: "block", status: 403, type: "auto" }],
  },
  {
    name: "redirect 302",
    actions: {
      redirect_request: {
        status_code: 302,
        location: "/x?id=[security_response_id]",
        security_response_id: ID,
      },
    },
    expected: [
      {
        kind: "redirect",
        status: 302,
        location: "/x?id=[security_response_id]",
        securityResponseId: ID,
      },
    ],
  },
  {
    name: "redirect with a non-3xx status becomes 303",
    actions: { redirect_request: { status_code: 200, location: "/blocked" } },
    expected: [{ kind: "redirect", status: 303, location: "/blocked" }],
  },
  {
    name: "redirect without a status becomes 303",
    actions: { redirect_request: { location: "https://example.com/" } },
    expected: [{ kind: "redirect", status: 303, location: "https://example.com/" }],
  },
  {
    name: "redirect with an empty location falls back to a 403 auto block",
    actions: { redirect_request: { status_code: 301, location: "", security_response_id: ID } },
    expected: [{ kind: "block", status: 403, type: "auto", securityResponseId: ID }],
  },
  {
    name: "redirect without a location falls back to a 403 auto block",
    actions: { redirect_request: { status_code: 301 } },
    expected: [{ kind: "block", status: 403, type: "auto" }],
  },
  {
    name: "redirect comes before block",
    actions: {
      block_request: { status_code: 403 },
      redirect_request: { status_code: 307, location: "/r" },
    },
    expected: [
      { kind: "redirect", status: 307, location: "/r" },
      { kind: "block", status: 403, type: "auto" },
    ],
  },
  {
    name: "generate_stack and custom actions are ignored",
    actions: { generate_stack: { stack_id: "abc" }, my_custom: { foo: 1 } },
    expected: [],
  },
  { name: "non-object parameters are ignored", actions: { block_request: "yes" }, expected: [] },
];

for (const { name, actions, expected } of cases) {
  test(`actionsFromWaf: ${name}`, () => {
    assert.deepEqual(actionsFromWaf(actions), expected);
  });
}
