/**
 * A small ext_proc server on `@grpc/grpc-js` (a transport independent of the generator's raw
 * HTTP/2 client) for testing the load generator: it asks for bodies by `mode_override`, blocks a
 * user agent, and can misbehave on purpose, and it records every message of every stream.
 */
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import type { ProcessingMode_BodySendMode } from "../../processor/gen/envoy/extensions/filters/http/ext_proc/v3/processing_mode_pb.ts";
import {
  type ProcessingRequest,
  type ProcessingResponse,
  ProcessingResponseSchema,
} from "../../processor/gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import { EXT_PROC_SERVICE } from "../support/ext-proc-service.ts";

/** How the fake answers. */
export interface FakePolicy {
  /** Body mode asked for in the reply to request headers that announce a body (0: none). */
  readonly requestBodyMode?: ProcessingMode_BodySendMode;
  /** Body mode asked for in the reply to response headers that announce a body (0: none). */
  readonly responseBodyMode?: ProcessingMode_BodySendMode;
  /** Request headers with this user agent get an immediate 403. */
  readonly blockUserAgent?: string;
  /** End the stream with gRPC OK right after answering the request headers. */
  readonly endAfterRequestHeaders?: boolean;
  /** Answer request headers with a response_headers reply. */
  readonly wrongReply?: boolean;
  /** End every stream with this status on its first message. */
  readonly failWith?: grpc.status;
}

/** One stream as the fake saw it. */
export interface FakeStream {
  readonly integration: string | undefined;
  /** Each message's kind; bodies as `requestBody:SIZE` or `requestBody:SIZE:eos`. */
  readonly messages: string[];
  /** How Envoy's side ended: "half-close", "cancelled", or still "open". */
  end: "open" | "half-close" | "cancelled";
}

/** A running fake. */
export interface FakeExtProc {
  readonly target: string;
  readonly streams: FakeStream[];
  stop(): Promise<void>;
}

const decoder = new TextDecoder();

function describe(message: ProcessingRequest): string {
  const request = message.request;
  if (request.case === "requestBody" || request.case === "responseBody") {
    return `${request.case}:${request.value.body.length}${request.value.endOfStream ? ":eos" : ""}`;
  }
  return request.case ?? "none";
}

function userAgent(message: ProcessingRequest): string {
  if (message.request.case !== "requestHeaders") return "";
  const header = message.request.value.headers?.headers.find((h) => h.key === "user-agent");
  return header === undefined ? "" : decoder.decode(header.rawValue);
}

/** The reply to `message` under `policy`. */
function replyTo(message: ProcessingRequest, policy: FakePolicy): ProcessingResponse {
  const request = message.request;
  const blocked =
    policy.blockUserAgent !== undefined && userAgent(message) === policy.blockUserAgent;
  if (blocked) {
    return create(ProcessingResponseSchema, {
      response: { case: "immediateResponse", value: { status: { code: 403 } } },
    });
  }
  if (request.case === "requestHeaders") {
    const mode = request.value.endOfStream ? 0 : (policy.requestBodyMode ?? 0);
    return create(ProcessingResponseSchema, {
      response: { case: policy.wrongReply ? "responseHeaders" : "requestHeaders", value: {} },
      ...(mode === 0 ? {} : { modeOverride: { requestBodyMode: mode } }),
    });
  }
  if (request.case === "responseHeaders") {
    const mode = request.value.endOfStream ? 0 : (policy.responseBodyMode ?? 0);
    return create(ProcessingResponseSchema, {
      response: { case: "responseHeaders", value: {} },
      ...(mode === 0 ? {} : { modeOverride: { responseBodyMode: mode } }),
    });
  }
  const kind = request.case === "responseBody" ? "responseBody" : "requestBody";
  return create(ProcessingResponseSchema, { response: { case: kind, value: {} } });
}

const SERVICE = EXT_PROC_SERVICE;

type Call = grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>;

function serve(call: Call, policy: FakePolicy, streams: FakeStream[]): void {
  const integration = call.metadata.get("x-datadog-envoy-integration")[0];
  const stream: FakeStream = {
    integration: integration === undefined ? undefined : String(integration),
    messages: [],
    end: "open",
  };
  streams.push(stream);
  let ended = false;
  const end = () => {
    if (!ended) call.end();
    ended = true;
  };
  call.on("data", (message: ProcessingRequest) => {
    stream.messages.push(describe(message));
    if (ended) return;
    if (policy.failWith !== undefined) {
      ended = true;
      call.emit("error", { code: policy.failWith, details: "scripted failure" });
      return;
    }
    const reply = replyTo(message, policy);
    call.write(reply);
    const last =
      reply.response.case === "immediateResponse" ||
      (policy.endAfterRequestHeaders && message.request.case === "requestHeaders");
    if (last) end();
  });
  call.on("end", () => {
    // grpc-js also ends the readable side on a reset, and flags the reset a moment later; and it
    // flags every call cancelled once its stream closes, so look before ending it.
    setTimeout(() => {
      if (stream.end === "open") stream.end = call.cancelled ? "cancelled" : "half-close";
      end();
    }, 10);
  });
  call.on("cancelled", () => {
    if (stream.end === "open" && !ended) stream.end = "cancelled";
  });
  call.on("error", () => {});
}

/** Starts the fake on an ephemeral 127.0.0.1 port, cleartext. */
export async function startFakeExtProc(policy: FakePolicy): Promise<FakeExtProc> {
  const streams: FakeStream[] = [];
  const server = new grpc.Server();
  server.addService(SERVICE, { process: (call: Call) => serve(call, policy, streams) });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return {
    target: `127.0.0.1:${port}`,
    streams,
    stop: () =>
      new Promise((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 200).unref();
      }),
  };
}
