/**
 * The servers a run measures: this processor and its no-op floor, started here as child processes
 * on free ports, and peers already running elsewhere (e.g. Datadog's Go processor), taken by address.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { V8_FLAGS } from "../../processor/workers/index.ts";
import { pidListeningOn, pinTree, processTree } from "./proc.ts";

/**
 * The compiled processor, as the image runs it (`npm run bench` builds it first): running the
 * TypeScript sources would add Node's type stripper (about 30 MB and startup work) to what is
 * measured.
 */
const MAIN = fileURLToPath(new URL("../../dist/processor/main.js", import.meta.url));

/** A server under test. */
export interface Target {
  readonly name: string;
  readonly kind: "processor" | "floor" | "peer";
  /** `host:port` of its cleartext ext_proc listener. */
  readonly address: string;
  /** The process whose tree is measured for CPU and memory; undefined when unknown. */
  readonly pid: number | undefined;
  /** What its health check reports, when known. */
  readonly version: string;
  /** Its HTTP health port (`/metrics` too), when this bench started it. */
  readonly healthPort?: number;
  stop(): Promise<void>;
}

/** A peer as given on the command line. */
export interface PeerSpec {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly pid?: number;
  readonly healthPort?: number;
}

/** How to start this processor. */
export interface ProcessorSpec {
  readonly name: string;
  /** False starts the floor: the same processor with DD_APPSEC_ENABLED=false. */
  readonly appsec: boolean;
  readonly workers: number;
  readonly rules: string | undefined;
  readonly env: Readonly<Record<string, string>>;
  readonly cpus: string | undefined;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  if (address === null || typeof address === "string") throw new Error("no free port");
  return address.port;
}

async function accepts(host: string, port: number): Promise<boolean> {
  const socket = new Socket();
  try {
    socket.connect(port, host);
    await once(socket, "connect");
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

/** The health JSON's version, or undefined while it is not ready (not 200). */
async function healthVersion(host: string, port: number): Promise<string | undefined> {
  try {
    const response = await fetch(`http://${host}:${port}/`, { signal: AbortSignal.timeout(2000) });
    if (response.status !== 200) return undefined;
    const body = (await response.json()) as { library?: { version?: unknown } };
    return String(body.library?.version ?? "unknown");
  } catch {
    return undefined;
  }
}

/** Keeps the last lines a child printed, to show why it failed. */
function tail(child: ChildProcess, keep = 30): () => string {
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      lines.push(...chunk.split("\n").filter((line) => line !== ""));
      lines.splice(0, Math.max(0, lines.length - keep));
    });
  }
  return () => lines.join("\n");
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  await exited;
  clearTimeout(timer);
}

/** Starts `node dist/processor/main.js` without TLS, without an Agent, and waits until it is ready. */
export async function startProcessor(spec: ProcessorSpec): Promise<Target> {
  const [port, healthPort] = [await freePort(), await freePort()];
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/tmp",
    DD_SERVICE_EXTENSION_TLS: "false",
    DD_SERVICE_EXTENSION_HOST: "127.0.0.1",
    DD_SERVICE_EXTENSION_PORT: String(port),
    DD_SERVICE_EXTENSION_HEALTHCHECK_PORT: String(healthPort),
    DD_SERVICE_EXTENSION_WORKERS: String(spec.workers),
    DD_AGENT_HOST: "127.0.0.1",
    DD_TRACE_AGENT_PORT: "9",
    DD_REMOTE_CONFIGURATION_ENABLED: "false",
    DD_APPSEC_ENABLED: String(spec.appsec),
    ...(spec.rules === undefined ? {} : { DD_APPSEC_RULES: spec.rules }),
    ...spec.env,
  };
  const [command, args] =
    spec.cpus === undefined
      ? [process.execPath, [...V8_FLAGS, MAIN]]
      : ["taskset", ["-c", spec.cpus, process.execPath, ...V8_FLAGS, MAIN]];
  const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  const output = tail(child);
  const deadline = Date.now() + 60_000;
  let version: string | undefined;
  while (version === undefined || !(await accepts("127.0.0.1", port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`${spec.name} did not start:\n${output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    version ??= await healthVersion("127.0.0.1", healthPort);
  }
  const pid = child.pid;
  let stopping = false;
  child.on("exit", (code, signal) => {
    if (!stopping) console.error(`${spec.name} exited (${code ?? signal}):\n${output()}`);
  });
  return {
    name: spec.name,
    kind: spec.appsec ? "processor" : "floor",
    address: `127.0.0.1:${port}`,
    pid,
    version,
    healthPort,
    stop: () => {
      stopping = true;
      return stopChild(child);
    },
  };
}

/** A peer already running: its PID is given, or found from its listening port. */
export async function attachPeer(spec: PeerSpec, cpus: string | undefined): Promise<Target> {
  if (!(await accepts(spec.host, spec.port)))
    throw new Error(`peer ${spec.name}: nothing on port ${spec.port}`);
  const pid = spec.pid ?? pidListeningOn(spec.port);
  if (cpus !== undefined) {
    if (pid === undefined) throw new Error(`peer ${spec.name}: cannot pin, PID unknown`);
    pinTree(processTree(pid), cpus);
  }
  const version =
    spec.healthPort === undefined
      ? "unknown"
      : ((await healthVersion(spec.host, spec.healthPort)) ?? "unknown");
  return {
    name: spec.name,
    kind: "peer",
    address: `${spec.host}:${spec.port}`,
    pid,
    version,
    stop: async () => {},
  };
}
