/** Runs the try-it gateway CLI (`tools/try-it/main.ts`, what `npm run demo` runs) for tests. */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import type { RequestLogEntry } from "../../../tools/try-it/gateway.ts";
import { ROOT } from "../../chart/support/helm.ts";

/** A running gateway process. */
export interface DemoProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly url: string;
  /** Per-request log entries (stdout), in order. */
  readonly entries: RequestLogEntry[];
  /** Waits until `count` entries were logged. */
  waitForEntries(count: number, timeoutMs?: number): Promise<RequestLogEntry[]>;
  stop(): Promise<void>;
}

/** Starts `node tools/try-it/main.ts ...args` on an ephemeral port. */
export function startDemo(
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<DemoProcess> {
  const child = spawn(process.execPath, [join(ROOT, "tools/try-it/main.ts"), ...args], {
    env: { PATH: process.env.PATH ?? "", PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const entries: RequestLogEntry[] = [];
  const stderr: string[] = [];
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  if (child.stdout) {
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line.startsWith("{")) entries.push(JSON.parse(line) as RequestLogEntry);
    });
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`gateway did not start: ${stderr.join("\n")}`)),
      20_000,
    );
    void exited.then(() => reject(new Error(`gateway exited: ${stderr.join("\n")}`)));
    if (!child.stderr) return;
    createInterface({ input: child.stderr }).on("line", (line) => {
      stderr.push(line);
      if (!line.includes('"gateway listening"')) return;
      clearTimeout(timer);
      const { port } = JSON.parse(line) as { port: number };
      resolve({
        child,
        port,
        url: `http://127.0.0.1:${port}`,
        entries,
        async waitForEntries(count, timeoutMs = 10_000) {
          const deadline = Date.now() + timeoutMs;
          while (entries.length < count && Date.now() < deadline)
            await new Promise((r) => setTimeout(r, 20));
          return entries;
        },
        stop: () => {
          child.kill("SIGTERM");
          setTimeout(() => child.kill("SIGKILL"), 5000).unref();
          return exited;
        },
      });
    });
  });
}

const run = promisify(execFile);

/** Runs curl with `args`; returns the body and, on the last line, `%{http_code} %{http_version}`. */
export async function curl(
  args: string[],
): Promise<{ status: number; version: string; body: string }> {
  const { stdout } = await run("curl", [
    "-s",
    "-m",
    "10",
    "-w",
    "\n%{http_code} %{http_version}",
    ...args,
  ]);
  const cut = stdout.lastIndexOf("\n");
  const [status, version] = stdout.slice(cut + 1).split(" ");
  return { status: Number(status), version: version ?? "", body: stdout.slice(0, cut) };
}
