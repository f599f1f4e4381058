import assert from "node:assert/strict";
import { test } from "node:test";
import {
  cgroupCpuQuota,
  cgroupMemoryLimit,
  type ReadFile,
  V8_FLAGS,
  WORKER_MEMORY_BYTES,
  workerCount,
  workerHeapArgs,
} from "./container.ts";

const files =
  (contents: Record<string, string>): ReadFile =>
  (path) =>
    contents[path];

test("cgroup v2 cpu.max: quota over period, or none for max", () => {
  assert.equal(cgroupCpuQuota(files({ "/sys/fs/cgroup/cpu.max": "150000 100000\n" })), 1.5);
  assert.equal(cgroupCpuQuota(files({ "/sys/fs/cgroup/cpu.max": "max 100000\n" })), undefined);
});

test("cgroup v1 cfs quota and period; -1 means no quota", () => {
  const v1 = (quota: string) =>
    files({
      "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": quota,
      "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000",
    });
  assert.equal(cgroupCpuQuota(v1("200000")), 2);
  assert.equal(cgroupCpuQuota(v1("-1")), undefined);
});

test("no cgroup files or garbage: no quota", () => {
  assert.equal(cgroupCpuQuota(files({})), undefined);
  assert.equal(cgroupCpuQuota(files({ "/sys/fs/cgroup/cpu.max": "lots\n" })), undefined);
});

const limits = (cpuQuota: number | undefined, cpus: number, memoryBytes?: number) => ({
  cpuQuota,
  cpus,
  memoryBytes,
});

test("workers: the setting wins, else the quota rounded up, capped by the CPUs", () => {
  assert.equal(workerCount(3, limits(1, 8)), 3);
  assert.equal(workerCount(undefined, limits(1.5, 8)), 2);
  assert.equal(workerCount(undefined, limits(0.25, 8)), 1);
  assert.equal(workerCount(undefined, limits(16, 4)), 4);
  assert.equal(workerCount(undefined, limits(undefined, 6)), 6);
});

test("workers: no more than the memory limit holds, and at least one", () => {
  // No CPU limit on a 64-core node, 512 MiB of memory: two workers, not 64.
  assert.equal(workerCount(undefined, limits(undefined, 64, 512 * 1024 * 1024)), 2);
  assert.equal(workerCount(undefined, limits(4, 8, WORKER_MEMORY_BYTES * 3)), 3);
  assert.equal(workerCount(undefined, limits(4, 8, 64 * 1024 * 1024)), 1);
});

test("cgroup memory limit: v2 and v1, unlimited and absent", () => {
  assert.equal(cgroupMemoryLimit(files({ "/sys/fs/cgroup/memory.max": "536870912\n" })), 536870912);
  assert.equal(cgroupMemoryLimit(files({ "/sys/fs/cgroup/memory.max": "max\n" })), undefined);
  assert.equal(
    cgroupMemoryLimit(
      files({ "/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n" }),
    ),
    undefined,
  );
  assert.equal(cgroupMemoryLimit(files({})), undefined);
});

test("heap flags: the shared V8 flags, plus each worker's share of 75% of the memory limit", () => {
  assert.deepEqual(workerHeapArgs(2, limits(2, 2, 1024 * 1024 * 1024)), [
    ...V8_FLAGS,
    "--max-old-space-size=384",
  ]);
  assert.deepEqual(workerHeapArgs(8, limits(8, 8, 256 * 1024 * 1024)), [
    ...V8_FLAGS,
    "--max-old-space-size=64",
  ]);
  assert.deepEqual(workerHeapArgs(2, limits(2, 2)), [...V8_FLAGS]);
});

test("the start script and the image run the processor with the same V8 flags as the workers", async () => {
  const { readFileSync } = await import("node:fs");
  const manifest = JSON.parse(
    readFileSync(new URL("../../package.json", import.meta.url), "utf8"),
  ) as { scripts: Record<string, string> };
  const start = readFileSync(new URL("../../.ci/start", import.meta.url), "utf8");
  for (const flag of V8_FLAGS) {
    assert.ok(manifest.scripts.start?.includes(`node ${flag}`), `npm start passes ${flag}`);
    assert.ok(start.includes(`node ${flag}`), `.ci/start passes ${flag}`);
  }
  // The image starts node itself (no npm, no shell): its ENTRYPOINT carries the same flags.
  const dockerfile = readFileSync(new URL("../Dockerfile", import.meta.url), "utf8");
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
  assert.ok(entrypoint, "processor/Dockerfile has an exec-form ENTRYPOINT");
  assert.deepEqual(JSON.parse(entrypoint), [
    "/nodejs/bin/node",
    ...V8_FLAGS,
    "dist/processor/main.js",
  ]);
});
