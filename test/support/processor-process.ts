/**
 * Runs the real processor (`processor/main.ts`) as a child process, configured only by environment
 * variables, and exposes its JSON log lines, ports and exit.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after } from "node:test";
import { fileURLToPath } from "node:url";

const MAIN = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "processor", "main.ts");

/**
 * Every processor a test file started and that has not exited. A test that fails before its own
 * cleanup would otherwise leave the processor (and its workers) running, and the test file waiting
 * on it: the file's last hook kills whatever is left, the whole process group.
 */
const running = new Set<ChildProcess>();
// Only under the test runner: the bench and the heavy fault script import this module too.
if (process.env.NODE_TEST_CONTEXT !== undefined) after(killRunning);

function killRunning(): void {
  for (const child of running) killGroup(child);
}

/** SIGKILL to the processor's process group: the processor and the workers it forked. */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
}

/** A started processor. */
export interface ProcessorProcess {
  readonly child: ChildProcess;
  readonly logs: Array<Record<string, unknown>>;
  /** Raw stderr/stdout lines that were not JSON (should stay empty). */
  readonly rawLines: string[];
  readonly grpcPort: number | undefined;
  readonly healthPort: number | undefined;
  /** Resolves with the exit code, once the output was read to the end ("close", not "exit"). */
  readonly exited: Promise<number | null>;
  /** Resolves with the first log line matching `predicate`. */
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  kill(signal?: NodeJS.Signals): void;
  /**
   * Kills the processor and its workers unless it has exited, and waits until it has: the cleanup
   * a test registers with `t.after` as soon as it starts one, so that a failing assertion cannot
   * leave it running. Nothing to do after a test that stopped it itself.
   */
  stop(): Promise<void>;
  /**
   * Signals the processor and every process it started (its workers): SIGSTOP/SIGCONT pause and
   * resume the whole processor, as a stalled pod would behave.
   */
  signalAll(signal: NodeJS.Signals): void;
}

/** `pid` and its descendants, parents first, read from /proc. */
function processTree(pid: number): number[] {
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    const parent = tree[i] as number;
    try {
      const children = readFileSync(`/proc/${parent}/task/${parent}/children`, "utf8");
      for (const child of children.trim().split(/\s+/)) if (child !== "") tree.push(Number(child));
    } catch {
      // The process is gone: nothing below it to signal.
    }
  }
  return tree;
}

/**
 * Starts the processor with `env` (added to a minimal environment) and does not wait. One worker
 * process unless `env` says otherwise: the worker tests ask for more.
 */
export function spawnProcessor(env: Record<string, string>): ProcessorProcess {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? "",
      DD_SERVICE_EXTENSION_HOST: "127.0.0.1",
      DD_SERVICE_EXTENSION_WORKERS: "1",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, so that the cleanup above also reaches the workers it forks.
    detached: true,
  });
  running.add(child);
  child.once("exit", () => running.delete(child));
  const logs: Array<Record<string, unknown>> = [];
  const rawLines: string[] = [];
  const watchers: Array<() => void> = [];
  let grpcPort: number | undefined;
  let healthPort: number | undefined;
  const onLine = (line: string) => {
    if (line.trim() === "") return;
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      logs.push(parsed);
      if (parsed.msg === "health server listening") healthPort = Number(parsed.port);
      if (parsed.msg === "ext_proc server listening" && typeof parsed.address === "string") {
        const port = Number(parsed.address.split(":").pop());
        grpcPort = Number.isNaN(port) ? undefined : port;
      }
    } catch {
      rawLines.push(line);
    }
    for (const watcher of [...watchers]) watcher();
  };
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = "";
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      lines.forEach(onLine);
    });
  }
  const exited = new Promise<number | null>((resolve) =>
    child.on("close", (code) => resolve(code)),
  );
  return {
    child,
    logs,
    rawLines,
    get grpcPort() {
      return grpcPort;
    },
    get healthPort() {
      return healthPort;
    },
    exited,
    waitForLog(predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = logs.find(predicate);
          if (!found) return false;
          clearTimeout(timer);
          watchers.splice(watchers.indexOf(check), 1);
          resolve(found);
          return true;
        };
        const timer = setTimeout(
          () =>
            reject(
              new Error(`log line not seen in ${timeoutMs} ms; logs: ${JSON.stringify(logs)}`),
            ),
          timeoutMs,
        );
        if (!check()) watchers.push(check);
        void exited.then(() =>
          setTimeout(
            () =>
              check() ||
              reject(
                new Error(`processor exited; logs: ${JSON.stringify(logs)} ${rawLines.join("\n")}`),
              ),
            50,
          ),
        );
      });
    },
    kill: (signal = "SIGTERM") => child.kill(signal),
    stop: async () => {
      if (running.has(child)) killGroup(child);
      await exited;
    },
    signalAll: (signal) => {
      for (const pid of processTree(child.pid ?? -1)) {
        try {
          process.kill(pid, signal);
        } catch {
          // Exited meanwhile.
        }
      }
    },
  };
}

/** Starts the processor on ephemeral ports and waits until it is ready (health 200). */
export async function startProcessor(env: Record<string, string> = {}): Promise<ProcessorProcess> {
  const processor = spawnProcessor({
    DD_SERVICE_EXTENSION_PORT: "0",
    DD_SERVICE_EXTENSION_HEALTHCHECK_PORT: "0",
    ...env,
  });
  // A guard against a processor that never gets ready, not a latency budget: loading the WAF in
  // each worker takes seconds on a loaded 2-core machine. One that is not ready is killed, so a
  // failed start cannot leave processes behind that keep the test file from ending.
  try {
    await processor.waitForLog((line) => line.msg === "processor ready", 30_000);
  } catch (error) {
    processor.signalAll("SIGKILL");
    throw error;
  }
  return processor;
}

/** GETs the health endpoint; returns status and parsed JSON. */
export async function getHealth(
  port: number,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${port}/`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
