/**
 * The gRPC services on grpc-js: ext_proc's `Process` and the standard `grpc.health.v1.Health`.
 * This is the RPC edge: messages are decoded with the Buf-generated protobuf-es types, stream
 * failures are logged once here and mapped to gRPC codes here.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type sendUnaryData,
  status,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { isProtocolError } from "../errors.ts";
import { openStream, type StreamPort } from "../extproc/index.ts";
import {
  type ProcessingRequest,
  ProcessingRequestSchema,
  ProcessingResponseSchema,
} from "../gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import {
  type HealthCheckRequest,
  HealthCheckRequestSchema,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "../gen/grpc/health/v1/health_pb.ts";
import type { Inspector } from "../inspector/index.ts";
import type { Logger } from "../log.ts";
import { NO_METRICS, type StreamMetrics } from "../metrics/index.ts";
import { ADMIT_ALL, type Admission, describeRefusal } from "./admission.ts";
import { createIdleStreams, type IdleStreams } from "./idle-streams.ts";
import type { Readiness, ReadinessState } from "./readiness.ts";
import type { StreamGate } from "./stream-gate.ts";

/** What the services need. */
export interface ServicesOptions {
  /** Opens the inspection of each ext_proc stream. */
  readonly inspector: Inspector;
  readonly readiness: Readiness;
  readonly log: Logger;
  /** Streams and protocol errors are counted here. */
  readonly metrics?: StreamMetrics | undefined;
  /** Ends silent streams; none are ended when absent. */
  readonly idleStreams?: IdleStreams;
  /** Refuses new streams under overload; all are admitted when absent. */
  readonly admission?: Admission;
}

/** One service to register: its definition and implementation. */
export interface GrpcService {
  readonly definition: ServiceDefinition;
  readonly implementation: UntypedServiceImplementation;
  /** Decides on each new stream of the service before grpc-js builds a call for it. */
  readonly gate?: StreamGate;
}

const PROCESSOR_SERVICE = "envoy.service.ext_proc.v3.ExternalProcessor";
const HEALTH_SERVICE = "grpc.health.v1.Health";
const SERVICE_NAMES = new Set(["", PROCESSOR_SERVICE]);

/** Views a protobuf-es encoding as the Buffer grpc-js frames, without copying. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Replies come encoded by the stream loop (`extproc/responses.ts`, which caches the common ones). */
function encodeReply(reply: Uint8Array): Buffer {
  return asBuffer(reply);
}

/**
 * A message that is not a valid ProcessingRequest. grpc-js would answer a throwing deserializer
 * with INTERNAL on its own, behind the stream's back (its inspection would never be released), so
 * decoding never throws: the failure reaches the stream handler as a value.
 */
class UndecodableMessage {
  readonly reason: string;
  constructor(reason: string) {
    this.reason = reason;
  }
}

function decodeRequest(bytes: Buffer): ProcessingRequest | UndecodableMessage {
  try {
    return fromBinary(ProcessingRequestSchema, bytes, DECODE_OPTIONS);
  } catch (error) {
    return new UndecodableMessage(error instanceof Error ? error.message : String(error));
  }
}

/** Unknown fields are not kept: nothing reads them, and keeping them costs a copy per message. */
const DECODE_OPTIONS = { readUnknownFields: false } as const;

const PROCESSOR_DEFINITION: ServiceDefinition = {
  process: {
    path: `/${PROCESSOR_SERVICE}/Process`,
    requestStream: true,
    responseStream: true,
    requestSerialize: (message: ProcessingRequest) =>
      asBuffer(toBinary(ProcessingRequestSchema, message)),
    requestDeserialize: decodeRequest,
    responseSerialize: encodeReply,
    responseDeserialize: (bytes: Buffer) => fromBinary(ProcessingResponseSchema, bytes),
  },
};

/** A unary or server-streaming grpc.health.v1 method: both take and return the same messages. */
function healthMethod(name: string, responseStream: boolean) {
  return {
    path: `/${HEALTH_SERVICE}/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: (message: HealthCheckRequest) =>
      asBuffer(toBinary(HealthCheckRequestSchema, message)),
    requestDeserialize: (bytes: Buffer) => fromBinary(HealthCheckRequestSchema, bytes),
    responseSerialize: (message: HealthCheckResponse) =>
      asBuffer(toBinary(HealthCheckResponseSchema, message)),
    responseDeserialize: (bytes: Buffer) => fromBinary(HealthCheckResponseSchema, bytes),
  };
}

const HEALTH_DEFINITION: ServiceDefinition = {
  check: healthMethod("Check", false),
  watch: healthMethod("Watch", true),
};

/** The services the processor serves. */
export function createServices(options: ServicesOptions): GrpcService[] {
  const context: ProcessContext = {
    ...options,
    idleStreams: options.idleStreams ?? createIdleStreams(0),
    admission: options.admission ?? ADMIT_ALL,
    open: 0,
  };
  return [
    {
      definition: PROCESSOR_DEFINITION,
      implementation: { process: (call: Call) => serveProcess(call, context) },
      gate: () => admit(context),
    },
    { definition: HEALTH_DEFINITION, implementation: healthImplementation(options.readiness) },
  ];
}

type Call = ServerDuplexStream<ProcessingRequest | UndecodableMessage, Uint8Array>;

/** What every Process call shares: the options, and the count of open streams. */
interface ProcessContext extends ServicesOptions {
  readonly idleStreams: IdleStreams;
  readonly admission: Admission;
  open: number;
}

/**
 * Decides on a new ext_proc stream before any message is read (`stream-gate.ts`): refused when
 * the process is overloaded, with RESOURCE_EXHAUSTED, which Envoy handles by its failure mode at
 * once (and which gRPC retry policies do not retry by default, so shedding does not multiply the
 * load). Returns the refusal's message, or undefined to serve the stream.
 */
function admit(context: ProcessContext): string | undefined {
  const refusal = context.admission.check(context.open);
  if (refusal === undefined) return undefined;
  (context.metrics ?? NO_METRICS).streamRefused(refusal.reason);
  // Logged at debug only: under overload a line per refused stream would add to the overload.
  if (context.log.enabled("debug"))
    context.log.debug("stream refused", { rpc: "Process", reason: refusal.reason });
  return describeRefusal(refusal);
}

/**
 * Connects one grpc-js call to the stream loop. Messages are handled one at a time: while the loop
 * works on an asynchronous reply the call is paused, so the next message waits in grpc-js.
 */
function serveProcess(call: Call, context: ProcessContext): void {
  const { log } = context;
  const metrics = context.metrics ?? NO_METRICS;
  let open = true;
  context.open++;
  // Every way the call ends goes through `close`, so the count and the idle entry are released once.
  const close = () => {
    if (!open) return false;
    open = false;
    context.open--;
    idle.release();
    return true;
  };
  const idle = context.idleStreams.track((idleMs) => {
    if (!close()) return;
    stream.cancel();
    log.warn("stream idle: ended", {
      rpc: "Process",
      idleMs,
      timeoutMs: context.idleStreams.timeoutMs,
    });
    call.emit("error", {
      code: status.DEADLINE_EXCEEDED,
      details: `stream idle for ${idleMs} ms (DD_SERVICE_EXTENSION_STREAM_IDLE_TIMEOUT)`,
    });
  });
  const port: StreamPort = {
    send: (reply) => {
      if (!open) return;
      idle.touch();
      call.write(reply);
    },
    finish: () => {
      if (close()) call.end();
    },
    fail: (error) => {
      if (close()) call.emit("error", statusOf(error, log, metrics));
    },
  };
  const metadata = (key: string) => {
    const values = call.metadata.get(key);
    return values.length > 0 ? String(values[0]) : undefined;
  };
  const stream = openStream({ metadata }, context.inspector, port, metrics);
  const resume = () => {
    if (open) call.resume();
  };
  call.on("data", (message) => {
    idle.touch();
    if (message instanceof UndecodableMessage) {
      undecodable(message);
      return;
    }
    const pending = stream.receive(message);
    if (pending !== undefined) {
      call.pause();
      void pending.then(resume);
    }
  });
  call.on("end", () => stream.halfClose());
  // grpc-js reports every end it did not get from us as a cancellation: Envoy's RST_STREAM, a
  // passed deadline, a lost connection, a message over the size limit (after answering it with
  // RESOURCE_EXHAUSTED). It also fires after our own end, when `open` is already false.
  call.on("cancelled", () => {
    if (!close()) return;
    log.debug("stream cancelled", { rpc: "Process" });
    stream.cancel();
  });
  const undecodable = (message: UndecodableMessage) => {
    if (!close()) return;
    stream.cancel("error");
    metrics.protocolError("undecodable-message");
    log.warn("stream failed", {
      rpc: "Process",
      code: "undecodable-message",
      error: message.reason,
    });
    call.emit("error", {
      code: status.INVALID_ARGUMENT,
      details: `undecodable ProcessingRequest: ${message.reason}`,
    });
  };
}

/** The gRPC status for a failure of the stream loop, logged once. */
function statusOf(
  error: unknown,
  log: Logger,
  metrics: StreamMetrics,
): { code: status; details: string } {
  if (isProtocolError(error)) {
    metrics.protocolError(error.code);
    log.warn("protocol error", { rpc: "Process", code: error.code, error: error.message });
    return { code: status.INVALID_ARGUMENT, details: `${error.code}: ${error.message}` };
  }
  log.error("stream failed", { rpc: "Process", error: String(error) });
  return { code: status.INTERNAL, details: "internal error" };
}

function servingStatus(state: ReadinessState): HealthCheckResponse_ServingStatus {
  return state === "ready"
    ? HealthCheckResponse_ServingStatus.SERVING
    : HealthCheckResponse_ServingStatus.NOT_SERVING;
}

function healthResponse(statusValue: HealthCheckResponse_ServingStatus): HealthCheckResponse {
  return create(HealthCheckResponseSchema, { status: statusValue });
}

/** grpc.health.v1: `""` and the ext_proc service are known; Watch streams every change. */
function healthImplementation(readiness: Readiness): UntypedServiceImplementation {
  return {
    check(
      call: ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>,
      callback: sendUnaryData<HealthCheckResponse>,
    ) {
      if (!SERVICE_NAMES.has(call.request.service)) {
        callback({ code: status.NOT_FOUND, details: `unknown service ${call.request.service}` });
        return;
      }
      callback(null, healthResponse(servingStatus(readiness.state)));
    },
    watch(call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) {
      if (!SERVICE_NAMES.has(call.request.service)) {
        call.write(healthResponse(HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN));
        call.end();
        return;
      }
      call.write(healthResponse(servingStatus(readiness.state)));
      const unsubscribe = readiness.subscribe((state) =>
        call.write(healthResponse(servingStatus(state))),
      );
      call.on("cancelled", unsubscribe);
      call.on("close", unsubscribe);
    },
  };
}
