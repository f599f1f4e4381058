export type { ReadFile } from "./cpu-limit.ts";
export { cgroupCpuQuota, workerCount } from "./cpu-limit.ts";
export type { PrimaryMessage, WorkerMessage } from "./messages.ts";
export { isPrimaryMessage } from "./messages.ts";
export type { PrimaryOptions } from "./primary.ts";
export { runPrimary } from "./primary.ts";
