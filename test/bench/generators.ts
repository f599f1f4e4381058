/**
 * The bench's side of the load generator processes: starts them (optionally pinned to CPUs with
 * taskset), splits connections, streams and rate between them, and sends each command to all at
 * once.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Schedule, WindowResult } from "./load.ts";
import type { Command, Reply } from "./protocol.ts";

const ENTRY = fileURLToPath(new URL("./generator.ts", import.meta.url));

/** How to start the generators for one run against one target. */
export interface GeneratorOptions {
  readonly target: string;
  readonly scenario: string;
  readonly processes: number;
  readonly connections: number;
  readonly chunkSize: number;
  readonly timeoutMs: number;
  readonly verifyReplies: number;
  /** taskset CPU list for the generators, or undefined for no pinning. */
  readonly cpus: string | undefined;
}

/** The `index`-th of `parts` near-equal shares of `total` (at least `min`). */
export function share(total: number, parts: number, index: number, min = 0): number {
  const base = Math.floor(total / parts) + (index < total % parts ? 1 : 0);
  return Math.max(min, base);
}

class Channel {
  readonly child: ChildProcess;
  readonly #pending: Array<{ resolve: (reply: Reply) => void; reject: (error: Error) => void }> =
    [];

  constructor(child: ChildProcess) {
    this.child = child;
    child.on("message", (reply: Reply) => {
      const waiter = this.#pending.shift();
      if (reply.type === "failed") waiter?.reject(new Error(`generator: ${reply.error}`));
      else waiter?.resolve(reply);
    });
    child.on("exit", (code, signal) => {
      const error = new Error(`generator exited (${code ?? signal})`);
      for (const waiter of this.#pending.splice(0)) waiter.reject(error);
    });
  }

  call<T extends Reply["type"]>(command: Command, expect: T): Promise<Extract<Reply, { type: T }>> {
    return new Promise((resolve, reject) => {
      this.#pending.push({
        resolve: (reply) =>
          reply.type === expect
            ? resolve(reply as Extract<Reply, { type: T }>)
            : reject(new Error(`generator answered ${reply.type} to ${command.type}`)),
        reject,
      });
      this.child.send(command);
    });
  }
}

/** Running generator processes. */
export class Generators {
  readonly #channels: Channel[];

  private constructor(channels: Channel[]) {
    this.#channels = channels;
  }

  /** Starts the processes and connects them to the target. */
  static async start(options: GeneratorOptions): Promise<Generators> {
    const channels = Array.from({ length: options.processes }, () => {
      const [command, args] =
        options.cpus === undefined
          ? [process.execPath, [ENTRY]]
          : ["taskset", ["-c", options.cpus, process.execPath, ENTRY]];
      return new Channel(spawn(command, args, { stdio: ["ignore", "inherit", "inherit", "ipc"] }));
    });
    const generators = new Generators(channels);
    try {
      await Promise.all(
        channels.map((channel, index) =>
          channel.call(
            {
              type: "init",
              target: options.target,
              scenario: options.scenario,
              connections: share(options.connections, options.processes, index, 1),
              chunkSize: options.chunkSize,
              timeoutMs: options.timeoutMs,
              verifyReplies: options.verifyReplies,
            },
            "ready",
          ),
        ),
      );
    } catch (error) {
      generators.kill();
      throw error;
    }
    return generators;
  }

  /** The generators' process ids. */
  get pids(): number[] {
    return this.#channels.map((channel) => channel.child.pid ?? 0);
  }

  /** Starts the load, shared out between the processes. */
  async run(schedule: Schedule): Promise<void> {
    const parts = this.#channels.length;
    await Promise.all(
      this.#channels.map((channel, index) => {
        const mine: Schedule =
          schedule.kind === "closed"
            ? {
                ...schedule,
                concurrency: share(schedule.concurrency, parts, index, 1),
                ...(schedule.maxStreams === undefined
                  ? {}
                  : { maxStreams: share(schedule.maxStreams, parts, index) }),
              }
            : {
                ...schedule,
                rate: schedule.rate / parts,
                maxInFlight: share(schedule.maxInFlight, parts, index, 1),
              };
        return channel.call({ type: "run", schedule: mine }, "running");
      }),
    );
  }

  async mark(): Promise<void> {
    await Promise.all(this.#channels.map((channel) => channel.call({ type: "mark" }, "marked")));
  }

  /** Waits until no stream is in flight (a closed loop with `maxStreams` ran out), or `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    await Promise.all(
      this.#channels.map((channel) => channel.call({ type: "drain", timeoutMs }, "drained")),
    );
  }

  async stop(): Promise<WindowResult[]> {
    const replies = await Promise.all(
      this.#channels.map((channel) => channel.call({ type: "stop" }, "result")),
    );
    return replies.map((reply) => reply.result);
  }

  /** Opens `count` idle streams in total; returns how many were answered and failed. */
  async openIdle(count: number): Promise<{ answered: number; failed: number }> {
    const parts = this.#channels.length;
    const replies = await Promise.all(
      this.#channels.map((channel, index) =>
        channel.call({ type: "idle", count: share(count, parts, index) }, "idle-open"),
      ),
    );
    return {
      answered: replies.reduce((sum, reply) => sum + reply.answered, 0),
      failed: replies.reduce((sum, reply) => sum + reply.failed, 0),
    };
  }

  async cancelIdle(): Promise<number> {
    const replies = await Promise.all(
      this.#channels.map((channel) => channel.call({ type: "cancel" }, "cancelled")),
    );
    return replies.reduce((sum, reply) => sum + reply.count, 0);
  }

  /** Asks every process to close its connections and exit; waits for the exits. */
  async exit(): Promise<void> {
    await Promise.all(
      this.#channels.map(
        (channel) =>
          new Promise<void>((resolve) => {
            const { child } = channel;
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
            child.once("exit", () => {
              clearTimeout(timer);
              resolve();
            });
            if (child.connected) child.send({ type: "exit" } satisfies Command);
            else child.kill();
          }),
      ),
    );
  }

  kill(): void {
    for (const channel of this.#channels) channel.child.kill("SIGKILL");
  }
}
