/**
 * A tiny scripted ext_proc server on `@grpc/grpc-js`, independent of our processor, for pinning
 * the Envoy-behaving client's behaviour (which runs on Connect, so these tests cross two gRPC
 * stacks too). Each message goes to a script that decides the reply.
 */
import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import {
  HeaderValueOptionSchema,
  HeaderValueSchema,
} from "../../processor/gen/envoy/config/core/v3/base_pb.ts";
import {
  type ExternalProcessor,
  ExternalProcessorSchema,
} from "../../processor/gen/envoy/extensions/filters/http/ext_proc/v3/ext_proc_pb.ts";
import {
  type ProcessingMode,
  ProcessingModeSchema,
} from "../../processor/gen/envoy/extensions/filters/http/ext_proc/v3/processing_mode_pb.ts";
import {
  BodyResponseSchema,
  type CommonResponse,
  CommonResponseSchema,
  HeaderMutationSchema,
  HeadersResponseSchema,
  ImmediateResponseSchema,
  type ProcessingRequest,
  type ProcessingResponse,
  ProcessingResponseSchema,
  TrailersResponseSchema,
} from "../../processor/gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import {
  HttpStatusSchema,
  type StatusCode,
} from "../../processor/gen/envoy/type/v3/http_status_pb.ts";
import { EXT_PROC_SERVICE } from "../support/ext-proc-service.ts";
import type { StatusCode as GrpcStatusCode } from "../support/grpc-client.ts";

/** What the script does with one message. */
export type Action =
  | ProcessingResponse
  | ProcessingResponse[]
  /** End the call with this status (0 = OK, a clean close). */
  | { close: GrpcStatusCode }
  /** Write nothing. */
  | "silent";

/** Decides the reply to the `index`-th message of a stream. */
export type Script = (message: ProcessingRequest, index: number) => Action | Promise<Action>;

/** A running fake processor. */
export interface FakeProcessor {
  readonly target: string;
  /** Every message received, per stream. */
  readonly streams: ProcessingRequest[][];
  /** The gRPC metadata of each stream. */
  readonly metadata: grpc.Metadata[];
  /** How each stream ended on Envoy's side: `half-close` or `cancelled`. */
  readonly clientEnds: string[];
  stop(): Promise<void>;
}

const SERVICE = EXT_PROC_SERVICE;

/** Starts a fake processor on an ephemeral 127.0.0.1 port, cleartext (h2c). */
export async function startFakeProcessor(script: Script): Promise<FakeProcessor> {
  const streams: ProcessingRequest[][] = [];
  const metadata: grpc.Metadata[] = [];
  const clientEnds: string[] = [];
  const server = new grpc.Server();
  server.addService(SERVICE, {
    process: (call: grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>) => {
      const received: ProcessingRequest[] = [];
      streams.push(received);
      metadata.push(call.metadata);
      let chain = Promise.resolve();
      let finished = false;
      let ended = false;
      call.on("data", (message: ProcessingRequest) => {
        const index = received.push(message) - 1;
        chain = chain.then(async () => {
          if (finished) return;
          const action = await script(message, index);
          if (action === "silent" || finished) return;
          if ("close" in action) {
            finished = true;
            if (action.close === grpc.status.OK) {
              ended = true;
              call.end();
            } else call.emit("error", { code: action.close, details: "scripted failure" });
            return;
          }
          for (const reply of Array.isArray(action) ? action : [action]) call.write(reply);
        });
      });
      let recorded = false;
      const record = (how: string) => {
        if (!recorded) clientEnds.push(how);
        recorded = true;
      };
      call.on("end", () => {
        // grpc-js ends the readable side on a reset too, and flags the reset a moment later.
        setTimeout(() => {
          if (call.cancelled) return record("cancelled");
          record("half-close");
          void chain.then(() => {
            if (!finished) {
              ended = true;
              call.end();
            }
            finished = true;
          });
        }, 10);
      });
      call.on("cancelled", () => {
        if (!ended) record("cancelled");
      });
      call.on("error", () => {});
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return {
    target: `127.0.0.1:${port}`,
    streams,
    metadata,
    clientEnds,
    stop: () =>
      new Promise((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 200).unref();
      }),
  };
}

/** Envoy filter settings for a test, in the chart's vocabulary (durations in ms). */
export interface ConfigFields {
  mode?: Partial<Omit<ProcessingMode, "$typeName" | "$unknown">>;
  allowModeOverride?: boolean;
  failureModeAllow?: boolean;
  messageTimeoutMs?: number;
  maxMessageTimeoutMs?: number;
  observabilityMode?: boolean;
  deferredCloseTimeoutMs?: number;
}

const duration = (ms: number) =>
  create(DurationSchema, { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 });

/** An ExternalProcessor config like the chart's, with `fields` applied. */
export function filterConfig(fields: ConfigFields = {}): ExternalProcessor {
  return create(ExternalProcessorSchema, {
    grpcService: {
      targetSpecifier: { case: "envoyGrpc", value: { clusterName: "ext_proc" } },
      initialMetadata: [{ key: "x-datadog-envoy-integration", value: "1" }],
    },
    processingMode: create(ProcessingModeSchema, fields.mode ?? {}),
    allowModeOverride: fields.allowModeOverride ?? false,
    failureModeAllow: fields.failureModeAllow ?? false,
    messageTimeout: duration(fields.messageTimeoutMs ?? 200),
    ...(fields.maxMessageTimeoutMs === undefined
      ? {}
      : { maxMessageTimeout: duration(fields.maxMessageTimeoutMs) }),
    observabilityMode: fields.observabilityMode ?? false,
    ...(fields.deferredCloseTimeoutMs === undefined
      ? {}
      : { deferredCloseTimeout: duration(fields.deferredCloseTimeoutMs) }),
  });
}

const encoder = new TextEncoder();

/** Reply fields of a CONTINUE. */
export interface ContinueFields {
  set?: Array<[string, string, number?]>;
  remove?: string[];
  modeOverride?: Partial<Omit<ProcessingMode, "$typeName" | "$unknown">>;
  body?: string;
  common?: Partial<Omit<CommonResponse, "$typeName" | "$unknown">>;
}

/** The matching-kind CONTINUE reply to `message`. */
export function continueFor(
  message: ProcessingRequest,
  fields: ContinueFields = {},
): ProcessingResponse {
  const headerMutation = create(HeaderMutationSchema, {
    setHeaders: (fields.set ?? []).map(([key, value, appendAction]) =>
      create(HeaderValueOptionSchema, {
        header: create(HeaderValueSchema, { key, rawValue: encoder.encode(value) }),
        appendAction: (appendAction ?? 0) as 0,
      }),
    ),
    removeHeaders: fields.remove ?? [],
  });
  const common = create(CommonResponseSchema, {
    headerMutation,
    ...(fields.body === undefined
      ? {}
      : { bodyMutation: { mutation: { case: "body", value: encoder.encode(fields.body) } } }),
    ...fields.common,
  });
  const modeOverride = fields.modeOverride
    ? create(ProcessingModeSchema, fields.modeOverride)
    : undefined;
  const kind = message.request.case;
  const response: ProcessingResponse["response"] =
    kind === "requestHeaders" || kind === "responseHeaders"
      ? { case: kind, value: create(HeadersResponseSchema, { response: common }) }
      : kind === "requestBody" || kind === "responseBody"
        ? { case: kind, value: create(BodyResponseSchema, { response: common }) }
        : kind === "requestTrailers" || kind === "responseTrailers"
          ? { case: kind, value: create(TrailersResponseSchema, { headerMutation }) }
          : { case: undefined };
  return create(ProcessingResponseSchema, { response, ...(modeOverride ? { modeOverride } : {}) });
}

/** An ImmediateResponse (a block). */
export function immediate(
  status: number,
  body: string,
  headers: Record<string, string> = {},
  details = "",
): ProcessingResponse {
  return create(ProcessingResponseSchema, {
    response: {
      case: "immediateResponse",
      value: create(ImmediateResponseSchema, {
        status: create(HttpStatusSchema, { code: status as StatusCode }),
        headers: create(HeaderMutationSchema, {
          setHeaders: Object.entries(headers).map(([key, value]) =>
            create(HeaderValueOptionSchema, {
              header: create(HeaderValueSchema, { key, rawValue: encoder.encode(value) }),
            }),
          ),
        }),
        body: encoder.encode(body),
        details,
      }),
    },
  });
}

/** A reply that only asks for more time (`override_message_timeout`). */
export function moreTime(ms: number): ProcessingResponse {
  return create(ProcessingResponseSchema, { overrideMessageTimeout: duration(ms) });
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Header value of a received headers message. */
export function receivedHeader(
  message: ProcessingRequest | undefined,
  name: string,
): string | undefined {
  const value = message?.request.value;
  if (value === undefined || !("headers" in value)) return undefined;
  const header = value.headers?.headers.find((h) => h.key === name);
  return header ? new TextDecoder().decode(header.rawValue) : undefined;
}
