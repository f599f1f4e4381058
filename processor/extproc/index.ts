export type { BodyBudget } from "./body-budget.ts";
export { createBodyBudget } from "./body-budget.ts";
export type { StreamPort } from "./process-stream.ts";
export { openStream } from "./process-stream.ts";
export type {
  SessionFactory,
  StreamOutcome,
} from "./session.ts";
export { passThroughSession } from "./session.ts";
export { createWafSessionFactory } from "./waf-session.ts";
