import assert from "node:assert/strict";
import { test } from "node:test";
import { createIdleStreams } from "./idle-streams.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("idle streams: a silent stream is reported once, after the timeout", async () => {
  const idle = createIdleStreams(100);
  try {
    const reported: number[] = [];
    idle.track((idleMs) => reported.push(idleMs));
    await sleep(60);
    assert.deepEqual(reported, []);
    await sleep(200);
    assert.equal(reported.length, 1);
    assert.ok((reported[0] ?? 0) >= 100);
    assert.equal(idle.size, 0);
  } finally {
    idle.stop();
  }
});

test("idle streams: activity and release keep a stream from being reported", async () => {
  const idle = createIdleStreams(100);
  try {
    let reported = 0;
    const active = idle.track(() => reported++);
    const released = idle.track(() => reported++);
    released.release();
    for (let i = 0; i < 6; i++) {
      await sleep(50);
      active.touch();
    }
    assert.equal(reported, 0);
    assert.equal(idle.size, 1);
    active.release();
    assert.equal(idle.size, 0);
  } finally {
    idle.stop();
  }
});

test("idle streams: a timeout of 0 tracks nothing and arms no timer", () => {
  const idle = createIdleStreams(0);
  idle.track(() => assert.fail("reported"));
  assert.equal(idle.size, 0);
  idle.stop();
});
