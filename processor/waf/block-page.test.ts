import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createLogger, silentLogger } from "../log.ts";
import type { BlockType, WafAction } from "./actions.ts";
import { blockResponseFor, loadBlockTemplates } from "./block-page.ts";

const templates = loadBlockTemplates({ log: silentLogger });
const ID = "7a1d2c3b-0000-4000-8000-123456789abc";
const decode = (body: Uint8Array): string => new TextDecoder().decode(body);
const header = (headers: ReadonlyArray<readonly [string, string]>, name: string) =>
  headers.find(([key]) => key === name)?.[1];

// docs/go-compatibility.md#blocking (Go's substring-position rule), plus the explicit types.
const acceptCases: Array<[BlockType, string | undefined, "json" | "html"]> = [
  ["auto", undefined, "json"],
  ["auto", "", "json"],
  ["auto", "*/*", "json"],
  ["auto", "text/html", "html"],
  ["auto", "text/html,application/json", "html"],
  ["auto", "text/html, application/json", "html"],
  ["auto", "application/json,text/html", "json"],
  ["auto", "application/json, text/html", "json"],
  ["auto", "irrelevant/content,text/html,application/json", "html"],
  ["auto", "irrelevant/irrelevant,application/html", "json"],
  ["auto", "text/html;q=0.1,application/json;q=0.9", "html"],
  ["auto", "TEXT/HTML", "json"],
  ["json", "text/html", "json"],
  ["json", undefined, "json"],
  ["html", "application/json", "html"],
  ["html", undefined, "html"],
];

for (const [type, accept, page] of acceptCases) {
  test(`block page: type ${type}, Accept ${JSON.stringify(accept)} → ${page}`, () => {
    const action: WafAction = { kind: "block", status: 403, type, securityResponseId: ID };
    const response = blockResponseFor(action, accept, templates);
    assert.equal(response.status, 403);
    const contentType = page === "html" ? "text/html" : "application/json";
    assert.deepEqual(
      response.headers.map(([key]) => key),
      ["content-type", "content-length"],
    );
    assert.equal(header(response.headers, "content-type"), contentType);
    assert.equal(header(response.headers, "content-length"), String(response.body.byteLength));
    assert.equal(decode(response.body), templates[page].replaceAll("[security_response_id]", ID));
  });
}

test("default pages are dd-trace's, with the id placeholder", () => {
  const json = JSON.parse(templates.json.replace("[security_response_id]", ID));
  assert.equal(json.errors[0].title, "You've been blocked");
  assert.equal(json.security_response_id, ID);
  assert.equal(templates.json.length, 211);
  assert.match(templates.html, /^<!DOCTYPE html>.*Security Response ID: \[security_response_id\]/s);
});

test("block page: JSON body is 189 + id bytes, HTML body has the id", () => {
  const json = blockResponseFor(
    { kind: "block", status: 418, type: "json", securityResponseId: ID },
    undefined,
    templates,
  );
  assert.equal(json.status, 418);
  assert.equal(json.body.byteLength, 189 + ID.length);
  const html = decode(
    blockResponseFor(
      { kind: "block", status: 403, type: "html", securityResponseId: ID },
      undefined,
      templates,
    ).body,
  );
  assert.ok(html.includes(`Security Response ID: ${ID}`));
  assert.ok(!html.includes("[security_response_id]"));
});

test("block page: without an id the placeholder becomes empty", () => {
  const response = blockResponseFor(
    { kind: "block", status: 403, type: "json" },
    undefined,
    templates,
  );
  assert.equal(JSON.parse(decode(response.body)).security_response_id, "");
});

test("block page: content-length counts bytes, not characters", () => {
  const custom = {
    json: '{"msg":"accès refusé","id":"[security_response_id]"}',
    html: "<p>✋</p>",
  };
  const response = blockResponseFor(
    { kind: "block", status: 403, type: "html" },
    undefined,
    custom,
  );
  assert.equal(response.body.byteLength, 10);
  assert.equal(header(response.headers, "content-length"), "10");
});

test("redirect: location with the id filled in, empty body", () => {
  const action: WafAction = {
    kind: "redirect",
    status: 302,
    location: "/blocked?id=[security_response_id]",
    securityResponseId: ID,
  };
  const response = blockResponseFor(action, "text/html", templates);
  assert.equal(response.status, 302);
  assert.deepEqual(response.headers, [["location", `/blocked?id=${ID}`]]);
  assert.equal(response.body.byteLength, 0);
});

test("custom template files replace the defaults; every placeholder is filled", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "waf-templates-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, "b.json"),
    '{"blocked":"[security_response_id]","again":"[security_response_id]"}',
  );
  writeFileSync(join(dir, "b.html"), "<h1>[security_response_id]</h1>\n");
  const custom = loadBlockTemplates({
    jsonPath: join(dir, "b.json"),
    htmlPath: join(dir, "b.html"),
    log: silentLogger,
  });
  const json = blockResponseFor(
    { kind: "block", status: 403, type: "auto", securityResponseId: "x" },
    undefined,
    custom,
  );
  assert.equal(decode(json.body), '{"blocked":"x","again":"x"}');
  const html = blockResponseFor(
    { kind: "block", status: 403, type: "auto", securityResponseId: "x" },
    "text/html",
    custom,
  );
  assert.equal(decode(html.body), "<h1>x</h1>\n");
});

test("an unreadable template path is logged and the default kept", () => {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger({ sink: (line) => lines.push(JSON.parse(line)) });
  const loaded = loadBlockTemplates({ jsonPath: "/nonexistent/blocked.json", htmlPath: "", log });
  assert.equal(loaded.json, templates.json);
  assert.equal(loaded.html, templates.html);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]?.level, "error");
  assert.equal(lines[0]?.template, "json");
  assert.equal(lines[0]?.path, "/nonexistent/blocked.json");
});
