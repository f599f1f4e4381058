import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type BodyPlan,
  bodyInspection,
  bodyKindFromContentType,
  bodyPlans,
} from "./content-type.ts";
import { parseMediaType } from "./media-type.ts";

const kinds: Array<[string | undefined, string | undefined]> = [
  ["application/json", "json"],
  ["Application/JSON; charset=utf-8", "json"],
  ["application/vnd.api+json", "json"],
  ["application/problem+json", "json"],
  ["text/json", "json"],
  ["application/x-ndjson", "json"],
  ["application/x-www-form-urlencoded", "urlencoded"],
  ["application/x-www-form-urlencoded; charset=UTF-8", "urlencoded"],
  ["multipart/form-data; boundary=abc", "multipart"],
  ["multipart/form-data", "multipart"],
  ["application/xml", "xml"],
  ["text/xml; charset=iso-8859-1", "xml"],
  ["application/soap+xml", "xml"],
  ["application/atom+xml", "xml"],
  ["text/plain", "text"],
  ["text/plain; charset=utf-8", "text"],
  ["text/html", undefined],
  ["text/csv", undefined],
  ["image/png", undefined],
  ["application/octet-stream", undefined],
  ["multipart/mixed; boundary=x", "multipart"],
  ["multipart/related; boundary=x", "multipart"],
  ["multipart/byteranges; boundary=x", undefined],
  ["", undefined],
  ["json", undefined],
  ["application/json/extra", undefined],
  [undefined, undefined],
];

for (const [contentType, expected] of kinds) {
  test(`bodyKindFromContentType(${JSON.stringify(contentType)}) is ${expected}`, () => {
    assert.equal(bodyKindFromContentType(contentType), expected);
  });
}

test("parseMediaType reads quoted parameters", () => {
  const media = parseMediaType('multipart/form-data; Boundary="a b\\"c"; charset=utf-8');
  assert.equal(media?.essence, "multipart/form-data");
  assert.equal(media?.params.get("boundary"), 'a b"c');
  assert.equal(media?.params.get("charset"), "utf-8");
});

test("bodyKindFromContentType: the first media type with a kind", () => {
  assert.equal(bodyKindFromContentType("text/html, application/json"), "json");
  assert.equal(bodyKindFromContentType("image/png, image/gif"), undefined);
});

const inspections: Array<[string | undefined, string | undefined]> = [
  ["application/json", "parse"],
  ["text/html, application/json", "parse"],
  [undefined, "sniff"],
  ["", "sniff"],
  ["   ", "sniff"],
  ["application/octet-stream", "sniff"],
  ["Application/Octet-Stream; name=x", "sniff"],
  ["binary/octet-stream", "sniff"],
  ["*/*", "sniff"],
  ["json", "sniff"],
  ["application/json/extra", "sniff"],
  ["image/png", undefined],
  ["text/html", undefined],
  ["application/zip", undefined],
  ["application/octet-stream, image/png", undefined],
];

for (const [contentType, expected] of inspections) {
  test(`bodyInspection(${JSON.stringify(contentType)}) is ${expected}`, () => {
    assert.equal(bodyInspection(contentType), expected);
  });
}

const plans: Array<[string | undefined, BodyPlan[]]> = [
  ["application/json", [{ kind: "json" }]],
  ["application/json; charset=utf-16", [{ kind: "json", charset: "utf-16" }]],
  [
    "application/json; charset=utf-8; charset=utf-16",
    [
      { kind: "json", charset: "utf-8" },
      { kind: "json", charset: "utf-16" },
    ],
  ],
  [
    "multipart/form-data; boundary=a; boundary=b",
    [
      { kind: "multipart", boundary: "a" },
      { kind: "multipart", boundary: "b" },
    ],
  ],
  ["multipart/form-data", [{ kind: "multipart" }]],
  [
    "application/x-www-form-urlencoded, application/json",
    [{ kind: "urlencoded" }, { kind: "json" }],
  ],
  ["application/json, application/json", [{ kind: "json" }]],
  [undefined, [{ kind: "sniff" }]],
  ["image/png", []],
  [
    "text/plain; charset=a; charset=b; charset=c; charset=d; charset=e",
    ["a", "b", "c", "d"].map((charset) => ({ kind: "text" as const, charset })),
  ],
];

for (const [contentType, expected] of plans) {
  test(`bodyPlans(${JSON.stringify(contentType)})`, () => {
    assert.deepEqual(bodyPlans(contentType), expected);
  });
}
