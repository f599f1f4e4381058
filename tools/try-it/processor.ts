/**
 * Runs the real processor (`processor/main.ts`) for the gateway: a child process on 127.0.0.1 with
 * ephemeral ports, its JSON log lines handed to a callback (warnings and errors echoed to stderr).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ROOT } from "./paths.ts";

/** A started processor. */
export interface DemoProcessor {
  readonly child: ChildProcess;
  /** `127.0.0.1:<port>` of the ext_proc server. */
  readonly target: string;
  stop(): Promise<void>;
}

/** Starts the processor with `env` and resolves once it listens. */
export function startDemoProcessor(
  env: Record<string, string>,
  onLine: (line: Record<string, unknown>) => void,
): Promise<DemoProcessor> {
  const child = spawn(process.execPath, [join(ROOT, "processor", "main.ts")], {
    env: {
      PATH: process.env.PATH ?? "",
      DD_SERVICE_EXTENSION_HOST: "127.0.0.1",
      DD_SERVICE_EXTENSION_PORT: "0",
      DD_SERVICE_EXTENSION_HEALTHCHECK_PORT: "0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    let started = false;
    const handle = (text: string) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        if (text.trim() !== "") process.stderr.write(`processor: ${text}\n`);
        return;
      }
      if (line.level === "warn" || line.level === "error")
        process.stderr.write(`processor: ${text}\n`);
      if (
        !started &&
        line.msg === "ext_proc server listening" &&
        typeof line.address === "string"
      ) {
        started = true;
        const port = line.address.split(":").pop();
        resolve({
          child,
          target: `127.0.0.1:${port}`,
          stop: () => {
            child.kill("SIGTERM");
            setTimeout(() => child.kill("SIGKILL"), 3000).unref();
            return exited;
          },
        });
      }
      onLine(line);
    };
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on("line", handle);
    }
    void exited.then(() => {
      if (!started)
        reject(new Error(`the processor exited before listening (code ${child.exitCode})`));
    });
  });
}
