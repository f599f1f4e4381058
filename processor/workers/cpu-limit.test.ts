import assert from "node:assert/strict";
import { test } from "node:test";
import { cgroupCpuQuota, type ReadFile, workerCount } from "./cpu-limit.ts";

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

test("workers: the setting wins, else the quota rounded up, capped by the CPUs", () => {
  assert.equal(workerCount(3, 1, 8), 3);
  assert.equal(workerCount(undefined, 1.5, 8), 2);
  assert.equal(workerCount(undefined, 0.25, 8), 1);
  assert.equal(workerCount(undefined, 16, 4), 4);
  assert.equal(workerCount(undefined, undefined, 6), 6);
});
