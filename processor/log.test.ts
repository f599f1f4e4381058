import assert from "node:assert/strict";
import { test } from "node:test";
import { boundedSink } from "./log.ts";

/** A stream whose backlog the test controls, as a pipe nobody reads would grow it. */
function fakeOut() {
  const written: string[] = [];
  return {
    written,
    writableLength: 0,
    write(chunk: string) {
      written.push(chunk);
      return true;
    },
  };
}

test("log sink: writes while the backlog is under the bound", () => {
  const out = fakeOut();
  const sink = boundedSink(out, 100);
  sink.write("a");
  sink.write("b");
  assert.deepEqual(out.written, ["a\n", "b\n"]);
  assert.equal(sink.dropped, 0);
});

test("log sink: drops and counts past the bound, reports the count once writable again", () => {
  const out = fakeOut();
  const sink = boundedSink(out, 100);
  out.writableLength = 101;
  for (let i = 0; i < 5; i++) sink.write(`x${i}`);
  assert.deepEqual(out.written, []);
  assert.equal(sink.dropped, 5);
  out.writableLength = 0;
  sink.write("after");
  assert.equal(out.written.length, 2);
  const notice = JSON.parse(out.written[0] ?? "{}") as Record<string, unknown>;
  assert.equal(notice.msg, "log lines dropped: output blocked");
  assert.equal(notice.dropped, 5);
  assert.equal(out.written[1], "after\n");
  sink.write("next");
  assert.equal(out.written[2], "next\n");
});
