/**
 * The container's limits, read from its cgroup: how many cores it may use and how much memory.
 * Node's `availableParallelism()` counts the node's CPUs, not the container's limit, so a pod
 * limited to 2 CPUs on a 64-core node would otherwise start 64 workers and thrash; and each worker
 * is a whole V8 heap plus a WAF, so the memory limit caps the count too.
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

/** Reads a file, or undefined when it does not exist or cannot be read. */
export type ReadFile = (path: string) => string | undefined;

const readIfPresent: ReadFile = (path) => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
};

/**
 * The CPU quota in cores (may be fractional), or undefined when unlimited or unknown. cgroup v2
 * `cpu.max` is `<quota> <period>` or `max <period>`; cgroup v1 splits them into two files.
 */
export function cgroupCpuQuota(read: ReadFile = readIfPresent): number | undefined {
  const v2 = read("/sys/fs/cgroup/cpu.max")?.trim().split(/\s+/);
  if (v2 && v2.length === 2) return ratio(v2[0], v2[1]);
  const quota = read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")?.trim();
  const period = read("/sys/fs/cgroup/cpu/cpu.cfs_period_us")?.trim();
  return ratio(quota, period);
}

function ratio(quota: string | undefined, period: string | undefined): number | undefined {
  const q = Number(quota);
  const p = Number(period);
  // "max" (v2) and -1 (v1) mean no quota.
  if (!Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) return undefined;
  return q / p;
}

/** cgroup v1 reports "no limit" as a huge number rather than `max`. */
const UNLIMITED_BYTES = 2 ** 60;

/** The memory limit in bytes, or undefined when unlimited or unknown. */
export function cgroupMemoryLimit(read: ReadFile = readIfPresent): number | undefined {
  const raw =
    read("/sys/fs/cgroup/memory.max") ?? read("/sys/fs/cgroup/memory/memory.limit_in_bytes");
  const bytes = Number(raw?.trim());
  return Number.isFinite(bytes) && bytes > 0 && bytes < UNLIMITED_BYTES ? bytes : undefined;
}

/**
 * Memory one worker needs under load with the recommended rules (measured about 110 MB idle and
 * 150 MB saturated, docs/performance.md), rounded up: the automatic count never plans more
 * workers than the memory limit holds.
 */
export const WORKER_MEMORY_BYTES = 192 * 1024 * 1024;

/** The container's limits as {@link workerCount} and {@link workerHeapArgs} use them. */
export interface ContainerLimits {
  /** CPU quota in cores, undefined when unlimited. */
  readonly cpuQuota: number | undefined;
  /** Memory limit in bytes, undefined when unlimited. */
  readonly memoryBytes: number | undefined;
  /** CPUs the process can be scheduled on. */
  readonly cpus: number;
}

/** Reads the limits of the container this process runs in. */
export function containerLimits(read: ReadFile = readIfPresent): ContainerLimits {
  return {
    cpuQuota: cgroupCpuQuota(read),
    memoryBytes: cgroupMemoryLimit(read),
    cpus: availableParallelism(),
  };
}

/**
 * Workers to run: the configured count, else the CPU quota rounded up (a 1.5-CPU limit gets two
 * workers that share the quota), never more than the CPUs the process can be scheduled on nor
 * than the memory limit holds ({@link WORKER_MEMORY_BYTES} each), and at least one.
 */
export function workerCount(configured: number | undefined, limits: ContainerLimits): number {
  if (configured !== undefined) return configured;
  const byCpu = limits.cpuQuota === undefined ? limits.cpus : Math.ceil(limits.cpuQuota);
  const byMemory =
    limits.memoryBytes === undefined
      ? Number.POSITIVE_INFINITY
      : Math.floor(limits.memoryBytes / WORKER_MEMORY_BYTES);
  return Math.max(1, Math.min(byCpu, limits.cpus, byMemory));
}

/**
 * V8 flags every serving process runs with (the `start` script, the image and each worker). A
 * young generation of 4 MiB semi-spaces instead of V8's default (which grows to tens of MiB under
 * this allocation rate) cut peak RSS at saturation by about 70 MiB per process for the same or
 * less CPU per stream (docs/performance.md); the garbage of a stream is short-lived, so a small
 * nursery collects it as well.
 */
export const V8_FLAGS: readonly string[] = Object.freeze(["--max-semi-space-size=4"]);

/**
 * V8 heap flags for each of `workers` worker processes: {@link V8_FLAGS}, and a share of the
 * memory limit. Each V8 sizes its old generation from the
 * container's whole memory limit, so several workers would together plan for several times the
 * limit: each gets its share of 75% of the limit instead (the rest is native memory: libddwaf,
 * HTTP/2 buffers). No flags when there is no memory limit.
 */
export function workerHeapArgs(workers: number, limits: ContainerLimits): string[] {
  if (limits.memoryBytes === undefined) return [...V8_FLAGS];
  const shareMiB = Math.floor((limits.memoryBytes * 0.75) / workers / (1024 * 1024));
  return [...V8_FLAGS, `--max-old-space-size=${Math.max(64, shareMiB)}`];
}
