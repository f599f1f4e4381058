/**
 * A fake Datadog Agent for tests (docs/libddwaf-and-dd-trace.md): HTTP on 127.0.0.1, port 0. It
 * decodes the msgpack traces dd-trace sends on `/v0.4/traces` and `/v0.5/traces` and answers the
 * other endpoints a tracer calls. It can start "down" (its port reserved but closed, so connections
 * are refused) and be brought up later on the same port.
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { rcResponse, type ServedConfig } from "./remote-config.ts";

/**
 * `@msgpack/msgpack` loaded without its type declarations: they name the DOM type `BufferSource`,
 * which this project's `lib` (es2023, no DOM) lacks, so importing them fails the typecheck.
 */
const { decode } = createRequire(import.meta.url)("@msgpack/msgpack") as {
  decode(buffer: Uint8Array, options: { useBigInt64: boolean }): unknown;
};

/** One span as the Agent receives it (v0.4 field names; ids and times as bigint). */
export interface AgentSpan {
  trace_id: bigint;
  span_id: bigint;
  parent_id: bigint;
  name: string;
  resource: string;
  service: string;
  type: string;
  error: number;
  start: bigint;
  duration: bigint;
  meta: Record<string, string>;
  metrics: Record<string, number>;
  meta_struct?: Record<string, unknown>;
}

/** One request the fake Agent answered. */
export interface AgentRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  at: number;
}

/** Options of {@link startFakeAgent}. */
export interface FakeAgentOptions {
  /** Start with the port reserved but closed (connection refused). Default false. */
  down?: boolean;
  /** Answer `/v0.7/config` with 404 (Remote Configuration off) instead of `{}`. Default false. */
  remoteConfigDisabled?: boolean;
  /** Status of trace uploads; anything but 200 rejects them without recording. Default 200. */
  traceStatus?: number;
}

/** How a misbehaving Agent answers (see {@link FakeAgent.setFault}). */
export interface AgentFault {
  readonly delayMs?: number;
  readonly garbage?: boolean;
}

/** The parts of a Remote Configuration request the tests read. */
export interface RcRequest {
  client: {
    id: string;
    products: string[];
    capabilities: string;
    state: {
      targets_version: number;
      has_error: boolean;
      config_states: Array<{
        id: string;
        version: number;
        product: string;
        apply_state: number;
        apply_error?: string;
      }>;
    };
  };
  cached_target_files: Array<{ path: string }>;
}

/** A running fake Agent. */
export interface FakeAgent {
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Every span received, in arrival order. */
  readonly spans: AgentSpan[];
  /** Every trace (array of spans) received, in arrival order. */
  readonly traces: AgentSpan[][];
  /** Every request answered. */
  readonly requests: AgentRequest[];
  readonly isUp: boolean;
  /** Status of later trace uploads; anything but 200 rejects them without recording. */
  setTraceStatus(status: number): void;
  /**
   * Misbehaves on every later request: answers only after `delayMs`, and/or with `garbage` (a 200
   * whose body is random bytes labelled JSON). `{}` behaves again.
   */
  setFault(fault: AgentFault): void;
  /** Resolves with the spans matching `predicate` once at least `count` (default 1) arrived. */
  waitForSpans(
    predicate: (span: AgentSpan) => boolean,
    timeoutMs?: number,
    count?: number,
  ): Promise<AgentSpan[]>;
  /** Every `/v0.7/config` request body, parsed. */
  readonly rcRequests: RcRequest[];
  /**
   * Serves these configs on `/v0.7/config` from now on (a new targets version each call), or
   * `{}` for a client already at the current version. `raw` answers that exact body instead.
   */
  serveRemoteConfig(configs: readonly ServedConfig[], omitFiles?: readonly string[]): void;
  serveRawRemoteConfig(body: string): void;
  /** Resolves with the first config request after this call that matches `predicate`. */
  waitForRcRequest(
    predicate: (request: RcRequest) => boolean,
    timeoutMs?: number,
  ): Promise<RcRequest>;
  /** Starts listening on {@link port} (no-op when up). */
  up(): Promise<void>;
  /** Stops listening and drops open connections (no-op when down). */
  down(): Promise<void>;
  /** Same as {@link down}; for `after` hooks. */
  stop(): Promise<void>;
}

/** Starts a fake Agent on a free port. */
export async function startFakeAgent(options: FakeAgentOptions = {}): Promise<FakeAgent> {
  const spans: AgentSpan[] = [];
  const traces: AgentSpan[][] = [];
  const requests: AgentRequest[] = [];
  const watchers = new Set<() => void>();
  let server: Server | undefined;
  let traceStatus = options.traceStatus ?? 200;
  let fault: AgentFault = {};
  const rcRequests: RcRequest[] = [];
  const rcWatchers = new Set<(request: RcRequest) => void>();
  let rcVersion = 0;
  let rcBody: object | string | undefined;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      requests.push({ method: req.method ?? "", path, headers: req.headers, at: Date.now() });
      const body = Buffer.concat(chunks);
      const answer = () => {
        if (fault.garbage === true) {
          res.writeHead(200, { "content-type": "application/json" }).end(randomBytes(512));
          return;
        }
        try {
          route(path, body, res);
        } catch (cause) {
          res.writeHead(400, { "content-type": "text/plain" }).end(String(cause));
        }
      };
      if (fault.delayMs !== undefined && fault.delayMs > 0) {
        setTimeout(() => {
          if (!res.destroyed) answer();
        }, fault.delayMs).unref();
        return;
      }
      answer();
    });
  };

  const route = (path: string, body: Buffer, res: ServerResponse): void => {
    if ((path === "/v0.4/traces" || path === "/v0.5/traces") && traceStatus !== 200) {
      json(res, traceStatus, { error: "rejected by the fake agent" });
    } else if (path === "/v0.4/traces" || path === "/v0.5/traces") {
      const received = path === "/v0.4/traces" ? decodeV04(body) : decodeV05(body);
      for (const trace of received) {
        traces.push(trace);
        spans.push(...trace);
      }
      for (const watcher of [...watchers]) watcher();
      json(res, 200, { rate_by_service: { "service:,env:": 1 } });
    } else if (path === "/info") {
      json(res, 200, {
        version: "7.99.0-fake",
        endpoints: [
          "/v0.4/traces",
          "/v0.5/traces",
          "/v0.6/stats",
          "/v0.7/config",
          "/telemetry/proxy/",
          "/evp_proxy/v2/",
          "/evp_proxy/v4/",
        ],
        client_drop_p0s: true,
        span_meta_structs: true,
        config: {},
      });
    } else if (path === "/v0.7/config") {
      const request = JSON.parse(body.toString("utf8")) as RcRequest;
      rcRequests.push(request);
      for (const watcher of [...rcWatchers]) watcher(request);
      if (options.remoteConfigDisabled === true)
        json(res, 404, { error: "remote config disabled" });
      else if (typeof rcBody === "string") res.writeHead(200).end(rcBody);
      else if (rcBody === undefined || request.client.state.targets_version === rcVersion)
        json(res, 200, {});
      else json(res, 200, rcBody);
    } else if (path === "/v0.6/stats") {
      json(res, 200, {});
    } else if (path.startsWith("/telemetry/proxy/") || path.startsWith("/evp_proxy/")) {
      res.writeHead(202).end();
    } else {
      json(res, 404, { error: "not found" });
    }
  };

  const listen = async (port: number): Promise<number> => {
    const created = createServer(handle);
    created.keepAliveTimeout = 1000;
    created.listen(port, "127.0.0.1");
    await once(created, "listening");
    server = created;
    return (created.address() as AddressInfo).port;
  };

  const close = async (): Promise<void> => {
    const current = server;
    if (current === undefined) return;
    server = undefined;
    const closed = once(current, "close");
    current.close();
    current.closeAllConnections();
    await closed;
  };

  const port = await listen(0);
  if (options.down === true) await close();

  const agent: FakeAgent = {
    port,
    url: `http://127.0.0.1:${port}`,
    spans,
    traces,
    requests,
    get isUp() {
      return server !== undefined;
    },
    setTraceStatus(status) {
      traceStatus = status;
    },
    setFault(next) {
      fault = next;
    },
    waitForSpans(predicate, timeoutMs = 10_000, count = 1) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const matching = spans.filter(predicate);
          if (matching.length < count) return false;
          watchers.delete(watch);
          clearTimeout(timer);
          resolve(matching);
          return true;
        };
        const watch = () => {
          check();
        };
        const timer = setTimeout(() => {
          watchers.delete(watch);
          reject(
            new Error(
              `fake agent: ${spans.filter(predicate).length}/${count} matching spans after ${timeoutMs} ms (${spans.length} received)`,
            ),
          );
        }, timeoutMs);
        watchers.add(watch);
        check();
      });
    },
    rcRequests,
    serveRemoteConfig(configs, omitFiles = []) {
      rcVersion += 1;
      rcBody = rcResponse(configs, { targetsVersion: rcVersion, omitFiles });
    },
    serveRawRemoteConfig(raw) {
      rcBody = raw;
    },
    waitForRcRequest(predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const watch = (request: RcRequest) => {
          if (!predicate(request)) return;
          rcWatchers.delete(watch);
          clearTimeout(timer);
          resolve(request);
        };
        const timer = setTimeout(() => {
          rcWatchers.delete(watch);
          reject(new Error(`fake agent: no matching config request in ${timeoutMs} ms`));
        }, timeoutMs);
        rcWatchers.add(watch);
      });
    },
    async up() {
      if (server === undefined) await listen(port);
    },
    down: close,
    stop: close,
  };
  return agent;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

const DECODE_OPTIONS = { useBigInt64: true } as const;

/** v0.4: an array of traces, each an array of span maps. */
export function decodeV04(body: Uint8Array): AgentSpan[][] {
  const decoded = decode(body, DECODE_OPTIONS) as Array<Array<Record<string, unknown>>>;
  return decoded.map((trace) => trace.map(spanFromMap));
}

/**
 * v0.5: `[stringTable, traces]`; each span is a 12-element array of string-table indexes and
 * numbers: service, name, resource, trace_id, span_id, parent_id, start, duration, error, meta,
 * metrics, type.
 */
export function decodeV05(body: Uint8Array): AgentSpan[][] {
  const [table, traces] = decode(body, DECODE_OPTIONS) as [string[], unknown[][][]];
  const str = (index: unknown): string => table[Number(index)] ?? "";
  return traces.map((trace) =>
    trace.map((fields) => {
      const meta: Record<string, string> = {};
      for (const [k, v] of mapEntries(fields[9])) meta[str(k)] = str(v);
      const metrics: Record<string, number> = {};
      for (const [k, v] of mapEntries(fields[10])) metrics[str(k)] = Number(v);
      return {
        service: str(fields[0]),
        name: str(fields[1]),
        resource: str(fields[2]),
        trace_id: BigInt(fields[3] as bigint | number),
        span_id: BigInt(fields[4] as bigint | number),
        parent_id: BigInt(fields[5] as bigint | number),
        start: BigInt(fields[6] as bigint | number),
        duration: BigInt(fields[7] as bigint | number),
        error: Number(fields[8]),
        meta,
        metrics,
        type: str(fields[11]),
      };
    }),
  );
}

function mapEntries(value: unknown): Array<[unknown, unknown]> {
  if (value instanceof Map) return [...value.entries()];
  if (typeof value === "object" && value !== null) return Object.entries(value);
  return [];
}

function spanFromMap(raw: Record<string, unknown>): AgentSpan {
  const metrics: Record<string, number> = {};
  for (const [k, v] of mapEntries(raw.metrics)) metrics[String(k)] = Number(v);
  const span: AgentSpan = {
    trace_id: BigInt((raw.trace_id as bigint | number | undefined) ?? 0),
    span_id: BigInt((raw.span_id as bigint | number | undefined) ?? 0),
    parent_id: BigInt((raw.parent_id as bigint | number | undefined) ?? 0),
    name: String(raw.name ?? ""),
    resource: String(raw.resource ?? ""),
    service: String(raw.service ?? ""),
    type: String(raw.type ?? ""),
    error: Number(raw.error ?? 0),
    start: BigInt((raw.start as bigint | number | undefined) ?? 0),
    duration: BigInt((raw.duration as bigint | number | undefined) ?? 0),
    meta: { ...((raw.meta as Record<string, string> | undefined) ?? {}) },
    metrics,
  };
  if (raw.meta_struct !== undefined) span.meta_struct = raw.meta_struct as Record<string, unknown>;
  return span;
}
