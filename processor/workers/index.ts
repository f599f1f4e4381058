export type { ContainerLimits, ReadFile } from "./container.ts";
export {
  cgroupCpuQuota,
  cgroupMemoryLimit,
  containerLimits,
  V8_FLAGS,
  WORKER_MEMORY_BYTES,
  workerCount,
  workerHeapArgs,
} from "./container.ts";
export type { PrimaryMessage, WorkerMessage } from "./messages.ts";
export { isPrimaryMessage } from "./messages.ts";
export type { PrimaryOptions } from "./primary.ts";
export { runPrimary } from "./primary.ts";
