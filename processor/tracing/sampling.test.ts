import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createRateLimiter, createSchemaSampler } from "./sampling.ts";

describe("createRateLimiter", () => {
  test("allows n per one-second window, then resets", () => {
    let now = 1_000;
    const limiter = createRateLimiter(2, () => now);
    assert.deepEqual([limiter.allow(), limiter.allow(), limiter.allow()], [true, true, false]);
    now += 999;
    assert.equal(limiter.allow(), false);
    now += 1;
    assert.deepEqual([limiter.allow(), limiter.allow(), limiter.allow()], [true, true, false]);
  });

  test("0 allows nothing", () => {
    assert.equal(createRateLimiter(0).allow(), false);
  });
});

describe("createSchemaSampler", () => {
  test("one sample per key per delay", () => {
    let now = 0;
    const sampler = createSchemaSampler(30, () => now);
    assert.equal(sampler.sample("GET /a 200"), true);
    assert.equal(sampler.sample("GET /a 200"), false);
    assert.equal(sampler.sample("GET /a 201"), true);
    now += 29_999;
    assert.equal(sampler.sample("GET /a 200"), false);
    now += 1;
    assert.equal(sampler.sample("GET /a 200"), true);
  });

  test("a delay of 0 samples every request", () => {
    const sampler = createSchemaSampler(0);
    assert.equal(sampler.sample("k"), true);
    assert.equal(sampler.sample("k"), true);
  });

  test("bounded: the oldest key is forgotten first", () => {
    const sampler = createSchemaSampler(30, () => 0, 2);
    assert.equal(sampler.sample("a"), true);
    assert.equal(sampler.sample("b"), true);
    assert.equal(sampler.sample("c"), true);
    assert.equal(sampler.sample("b"), false);
    assert.equal(sampler.sample("a"), true);
  });
});
