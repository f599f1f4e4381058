import assert from "node:assert/strict";
import { test } from "node:test";
import { createBodyBudget } from "./body-budget.ts";

test("reserves up to the limit and refuses beyond it, taking nothing on refusal", () => {
  const budget = createBodyBudget(100);
  assert.equal(budget.tryReserve(60), true);
  assert.equal(budget.tryReserve(41), false);
  assert.equal(budget.usedBytes, 60);
  assert.equal(budget.tryReserve(40), true);
  assert.equal(budget.usedBytes, 100);
});

test("release gives bytes back and never goes below zero", () => {
  const budget = createBodyBudget(10);
  budget.tryReserve(10);
  budget.release(4);
  assert.equal(budget.usedBytes, 6);
  budget.release(100);
  assert.equal(budget.usedBytes, 0);
});

test("an empty reservation always succeeds", () => {
  const budget = createBodyBudget(1);
  budget.tryReserve(1);
  assert.equal(budget.tryReserve(0), true);
});

test("reserveUpTo grants what is left", () => {
  const budget = createBodyBudget(10);
  assert.equal(budget.reserveUpTo(7), 7);
  assert.equal(budget.reserveUpTo(7), 3);
  assert.equal(budget.reserveUpTo(7), 0);
  assert.equal(budget.usedBytes, 10);
});
