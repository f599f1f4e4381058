import assert from "node:assert/strict";
import { test } from "node:test";
import { INITIAL_STATE, type StreamEvent, type StreamState, transition } from "./stream-state.ts";

const RH = (endOfStream = false): StreamEvent => ({ kind: "request-headers", endOfStream });
const RB = (endOfStream = false): StreamEvent => ({ kind: "request-body", endOfStream });
const RT: StreamEvent = { kind: "request-trailers" };
const SH = (endOfStream = false): StreamEvent => ({ kind: "response-headers", endOfStream });
const SB = (endOfStream = false): StreamEvent => ({ kind: "response-body", endOfStream });
const ST: StreamEvent = { kind: "response-trailers" };

/** Runs events from the start; returns the final phase or the first error code. */
function run(events: StreamEvent[]): string {
  let state: StreamState = INITIAL_STATE;
  for (const event of events) {
    const next = transition(state, event);
    if (!next.ok) return `error:${next.error}`;
    state = next.value;
  }
  return state.phase;
}

const cases: Array<[string, StreamEvent[], string]> = [
  ["headers only request, headers only response", [RH(true), SH(true)], "finished"],
  ["request with streamed body", [RH(), RB(), RB(), RB(true), SH(true)], "finished"],
  ["request body ended by trailers", [RH(), RB(), RT, SH(true)], "finished"],
  ["response body", [RH(true), SH(), SB(), SB(true)], "finished"],
  ["response ended by trailers", [RH(true), SH(), SB(), ST], "finished"],
  ["response headers with body pending", [RH(true), SH()], "response"],
  ["early response before the request body ended", [RH(), RB(), SH()], "response"],
  [
    "late request chunk after an early response",
    [RH(), RB(), SH(), RB(true), SB(true)],
    "finished",
  ],
  ["late request trailers after an early response", [RH(), SH(), RT, SB(true)], "finished"],
  [
    "request headers without body then trailers is an error",
    [RH(true), RT],
    "error:trailers-after-end",
  ],
  ["response before request", [SH()], "error:response-before-request"],
  ["response body before request", [SB()], "error:response-before-request"],
  ["response trailers before request", [ST], "error:response-before-request"],
  ["body before headers", [RB()], "error:body-before-headers"],
  ["trailers before headers", [RT], "error:trailers-before-headers"],
  ["second request headers", [RH(), RH()], "error:duplicate-request-headers"],
  [
    "second request headers after the response started",
    [RH(true), SH(), RH()],
    "error:duplicate-request-headers",
  ],
  ["second response headers", [RH(true), SH(), SH()], "error:duplicate-response-headers"],
  ["body after end of stream on headers", [RH(true), RB()], "error:body-after-end"],
  ["body after end of stream on body", [RH(), RB(true), RB()], "error:body-after-end"],
  ["body after trailers", [RH(), RT, RB()], "error:body-after-end"],
  [
    "late request body after the request ended, in the response",
    [RH(true), SH(), RB()],
    "error:body-after-end",
  ],
  ["response body before response headers", [RH(true), SB()], "error:response-body-before-headers"],
  ["response trailers before response headers", [RH(), ST], "error:response-body-before-headers"],
  ["anything after the end", [RH(true), SH(true), SB()], "error:message-after-end"],
  ["request headers after the end", [RH(true), SH(true), RH()], "error:message-after-end"],
];

for (const [name, events, want] of cases) {
  test(`transition: ${name}`, () => assert.equal(run(events), want));
}

test("transition never mutates the state it is given", () => {
  const state = Object.freeze({ ...INITIAL_STATE });
  transition(state, RH());
  assert.deepEqual(state, INITIAL_STATE);
});
