/** The load generator as the heavy fault variants use it: one process, 4 HTTP/2 connections. */
import { Generators } from "../../bench/generators.ts";
import type { Target } from "../../bench/targets.ts";

/** Starts one generator process for `scenario` against `target`, pinned to FAULT_CLIENT_CPUS. */
export function startGenerators(target: Target, scenario: string): Promise<Generators> {
  return Generators.start({
    target: target.address,
    scenario,
    processes: 1,
    connections: 4,
    chunkSize: 16_384,
    timeoutMs: 30_000,
    verifyReplies: 0,
    cpus: process.env.FAULT_CLIENT_CPUS,
  });
}
