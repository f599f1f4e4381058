import assert from "node:assert/strict";
import { test } from "node:test";
import { parseOptions, parsePeer } from "./options.ts";

const peers: Array<[string, ReturnType<typeof parsePeer>]> = [
  ["go=127.0.0.1:9001", { name: "go", host: "127.0.0.1", port: 9001 }],
  ["go=localhost:9001,pid=42", { name: "go", host: "localhost", port: 9001, pid: 42 }],
  [
    "old=10.0.0.2:443,health=80,pid=7",
    { name: "old", host: "10.0.0.2", port: 443, pid: 7, healthPort: 80 },
  ],
];
for (const [text, expected] of peers) {
  test(`--peer ${text}`, () => assert.deepEqual(parsePeer(text), expected));
}

for (const text of ["go", "go=host", "go=host:port", "=h:1", "go=h:1,cpu=2"]) {
  test(`--peer ${text} is rejected`, () => assert.equal(typeof parsePeer(text), "string"));
}

test("defaults: 3 rounds, 64 streams over 4 connections, open loop at half of each saturation", () => {
  const parsed = parseOptions([]);
  assert.ok("ok" in parsed);
  const { rounds, concurrency, connections, open, idleStreams, workers } = parsed.ok;
  assert.deepEqual(
    { rounds, concurrency, connections, open, idleStreams, workers },
    {
      rounds: 3,
      concurrency: 64,
      connections: 4,
      open: { kind: "fraction", fraction: 0.5, of: undefined },
      idleStreams: 10_000,
      workers: 1,
    },
  );
});

test("every problem is reported at once", () => {
  const parsed = parseOptions(["--rounds", "0", "--scenarios", "nope", "--open-rate-of", "go"]);
  assert.ok("errors" in parsed);
  assert.equal(parsed.errors.length, 3);
});

test("--no-self without a peer or the floor leaves nothing to measure", () => {
  const parsed = parseOptions(["--no-self"]);
  assert.ok("errors" in parsed);
});
