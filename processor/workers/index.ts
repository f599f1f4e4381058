export {
  containerLimits,
  V8_FLAGS,
  workerCount,
  workerHeapArgs,
} from "./container.ts";
export type { WorkerMessage } from "./messages.ts";
export { isPrimaryMessage } from "./messages.ts";
export type { PrimaryHandle } from "./primary.ts";
export { runPrimary } from "./primary.ts";
