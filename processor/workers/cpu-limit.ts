/**
 * How many cores the container may use, read from the cgroup CPU quota. Node's
 * `availableParallelism()` counts the node's CPUs, not the container's limit, so a pod limited to
 * 2 CPUs on a 64-core node would otherwise start 64 workers and thrash.
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

/**
 * Workers to run: the configured count, else the CPU quota rounded up (a 1.5-CPU limit gets two
 * workers that share the quota), never more than the CPUs the process can be scheduled on.
 */
export function workerCount(
  configured: number | undefined,
  quota: number | undefined = cgroupCpuQuota(),
  cpus: number = availableParallelism(),
): number {
  if (configured !== undefined) return configured;
  if (quota === undefined) return cpus;
  return Math.max(1, Math.min(cpus, Math.ceil(quota)));
}
