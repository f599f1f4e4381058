import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, test } from "node:test";
import {
  cleanPath,
  DEFAULT_QUERY_OBFUSCATION_REGEX,
  httpEndpoint,
  httpUrl,
  obfuscateQuery,
  percentDecode,
  resourcePath,
} from "./url.ts";

describe("cleanPath: Go's path.Clean", () => {
  // Go's src/path/path_test.go cleantests.
  const cases: Array<[string, string]> = [
    ["", "."],
    ["abc", "abc"],
    ["abc/def", "abc/def"],
    [".", "."],
    ["..", ".."],
    ["../..", "../.."],
    ["../../abc", "../../abc"],
    ["/abc", "/abc"],
    ["/", "/"],
    ["abc/", "abc"],
    ["/abc/def/", "/abc/def"],
    ["//abc", "/abc"],
    ["///abc", "/abc"],
    ["abc//def//ghi", "abc/def/ghi"],
    ["abc/./def", "abc/def"],
    ["/./abc/def", "/abc/def"],
    ["abc/.", "abc"],
    ["abc/def/ghi/../jkl", "abc/def/jkl"],
    ["abc/def/../ghi/../jkl", "abc/jkl"],
    ["abc/def/..", "abc"],
    ["abc/def/../..", "."],
    ["/abc/def/../..", "/"],
    ["abc/def/../../..", ".."],
    ["/abc/def/../../..", "/"],
    ["abc/def/../../../ghi/jkl/../../../mno", "../../mno"],
    ["abc/./../def", "def"],
    ["abc//./../def", "def"],
    ["abc/../../././../def", "../../def"],
  ];
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(cleanPath(input), expected);
    });
  }
});

describe("resourcePath: decoded, then cleaned", () => {
  const cases: Array<[string, string]> = [
    ["/../../../resource-span/.", "/resource-span"],
    ["/a%2Fb/../c", "/a/c"],
    ["/caf%C3%A9", "/café"],
    ["/%u002e/resource", "/%u002e/resource"],
    ["/x/%2e%2e/y", "/y"],
    ["/a+b", "/a+b"],
  ];
  for (const [input, expected] of cases) {
    test(`${input} → ${expected}`, () => assert.equal(resourcePath(input), expected));
  }
  test("percentDecode keeps invalid escapes and decodes non-UTF-8 bytes as U+FFFD", () => {
    assert.equal(percentDecode("/%zz/%4"), "/%zz/%4");
    assert.equal(percentDecode("/%ff"), "/\uFFFD");
    assert.equal(percentDecode("/é%20x"), "/é x");
  });
});

describe("httpUrl and query obfuscation", () => {
  test("the raw path is kept, the fragment dropped, the query obfuscated (B35)", () => {
    assert.equal(
      httpUrl("https", "datadoghq.com", "/../../../resource-span/.?id=test"),
      "https://datadoghq.com/../../../resource-span/.?id=test",
    );
    assert.equal(httpUrl("http", "h", "/a#frag?x=1"), "http://h/a");
    assert.equal(httpUrl("http", "h", "/a?x=1#frag"), "http://h/a?x=1");
    assert.equal(httpUrl("http", "h", "/a?"), "http://h/a");
  });

  const cases: Array<[string, string]> = [
    ["password=hunter2&user=bob", "<redacted>&user=bob"],
    ["q=1&api_key=abc123&x=2", "q=1&<redacted>&x=2"],
    ["token=abc", "<redacted>"],
    ["access_token=abc&ok=1", "access_<redacted>&ok=1"],
    ["auth=Bearer%20abcdef", "<redacted>"],
    ["q=search&page=2", "q=search&page=2"],
    ["jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "jwt=<redacted>"],
  ];
  for (const [query, expected] of cases) {
    test(`${query} → ${expected}`, () => assert.equal(obfuscateQuery(query), expected));
  }

  test("the default regex is dd-trace's, as installed", () => {
    const require = createRequire(import.meta.url);
    const path = require.resolve(
      "dd-trace/packages/dd-trace/src/config/supported-configurations.json",
    );
    const table = JSON.parse(readFileSync(path, "utf8")) as {
      supportedConfigurations: Record<string, Array<{ default: string }>>;
    };
    const entry = table.supportedConfigurations.DD_TRACE_OBFUSCATION_QUERY_STRING_REGEXP;
    assert.equal(entry?.[0]?.default, DEFAULT_QUERY_OBFUSCATION_REGEX);
  });
});

describe("httpEndpoint: dd-trace's route-less normaliser", () => {
  const cases: Array<[string, string]> = [
    ["/", "/"],
    ["", "/"],
    ["/users/123/orders", "/users/{param:int}/orders"],
    ["/users/1", "/users/1"],
    ["/v/1.2.3", "/v/{param:int_id}"],
    ["/obj/abcdef1", "/obj/{param:hex}"],
    ["/obj/abc-def-0123", "/obj/{param:hex_id}"],
    ["/s/aaaaaaaaaaaaaaaaaaaa", "/s/{param:str}"],
    ["/s/a@b", "/s/{param:str}"],
    ["/a/b/c/d/e/f/g/h/i/j", "/a/b/c/d/e/f/g/h"],
    ["//a//b/", "/a/b"],
  ];
  for (const [path, expected] of cases) {
    test(`${path} → ${expected}`, () => assert.equal(httpEndpoint(path), expected));
  }
});
