/**
 * The IPC messages between the bench and its generator processes: every command gets exactly one
 * reply (or `failed`), in order.
 */
import type { Schedule, WindowResult } from "./load.ts";

/** What the bench asks a generator to do. */
export type Command =
  | {
      readonly type: "init";
      readonly target: string;
      readonly connections: number;
      readonly scenario: string;
      readonly chunkSize: number;
      readonly timeoutMs: number;
      readonly verifyReplies: number;
    }
  | { readonly type: "run"; readonly schedule: Schedule }
  | { readonly type: "mark" }
  | { readonly type: "stop" }
  | { readonly type: "drain"; readonly timeoutMs: number }
  | { readonly type: "idle"; readonly count: number }
  | { readonly type: "cancel" }
  | { readonly type: "exit" };

/** What a generator answers. */
export type Reply =
  | { readonly type: "ready" }
  | { readonly type: "running" }
  | { readonly type: "marked" }
  | { readonly type: "result"; readonly result: WindowResult }
  | { readonly type: "drained" }
  | { readonly type: "idle-open"; readonly answered: number; readonly failed: number }
  | { readonly type: "cancelled"; readonly count: number }
  | { readonly type: "failed"; readonly error: string };
