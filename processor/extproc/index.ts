export type { Analysis, AnalysisDeps } from "./analysis.ts";
export type { BodyBudget } from "./body-budget.ts";
export { createBodyBudget } from "./body-budget.ts";
export type { ExtProcStream, StreamContext, StreamPort } from "./process-stream.ts";
export { openStream } from "./process-stream.ts";
export { continueResponse, immediateResponse, responseFor } from "./responses.ts";
export type {
  SessionFactory,
  SessionResult,
  StreamInfo,
  StreamOutcome,
  StreamSession,
} from "./session.ts";
export { passThroughSession } from "./session.ts";
export type { Phase, StreamEvent, StreamState } from "./stream-state.ts";
export { INITIAL_STATE, transition } from "./stream-state.ts";
export type {
  BodyMode,
  ContinueVerdict,
  HeaderPair,
  ImmediateVerdict,
  Verdict,
} from "./verdict.ts";
export { CONTINUE } from "./verdict.ts";
export { createWafSessionFactory } from "./waf-session.ts";
