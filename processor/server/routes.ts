/**
 * Registers the gRPC services: ext_proc's `Process` and the standard `grpc.health.v1.Health`.
 * This is the RPC edge: stream errors are logged once here and mapped to gRPC codes here.
 */
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { isProtocolError } from "../errors.ts";
import { processStream, type SessionFactory } from "../extproc/index.ts";
import {
  ExternalProcessor,
  type ProcessingRequest,
  type ProcessingResponse,
} from "../gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.ts";
import type { Logger } from "../log.ts";
import type { Readiness, ReadinessState } from "./readiness.ts";

/** What the routes need. */
export interface RoutesOptions {
  readonly createSession: SessionFactory;
  readonly readiness: Readiness;
  readonly log: Logger;
}

const SERVICE_NAMES = new Set(["", ExternalProcessor.typeName]);

/** Returns the router callback for `connectNodeAdapter`. */
export function createRoutes(options: RoutesOptions): (router: ConnectRouter) => void {
  const { readiness, log } = options;
  return (router) => {
    router.service(ExternalProcessor, {
      process: (requests, context) => guardStream(requests, context, options),
    });
    router.service(Health, {
      check(request) {
        if (!SERVICE_NAMES.has(request.service))
          throw new ConnectError(`unknown service ${request.service}`, Code.NotFound);
        return { status: servingStatus(readiness.state) };
      },
      async *watch(request, context) {
        if (!SERVICE_NAMES.has(request.service)) {
          yield { status: HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN };
          return;
        }
        yield* watchReadiness(readiness, context.signal);
      },
    });
    log.debug("gRPC services registered", {
      services: [ExternalProcessor.typeName, Health.typeName],
    });
  };
}

/** Runs one ext_proc stream, mapping failures to gRPC codes and logging each failure once. */
async function* guardStream(
  requests: AsyncIterable<ProcessingRequest>,
  context: HandlerContext,
  options: RoutesOptions,
): AsyncGenerator<ProcessingResponse> {
  const metadata = (key: string) => context.requestHeader.get(key) ?? undefined;
  try {
    yield* processStream(requests, { signal: context.signal, metadata }, options.createSession);
  } catch (error) {
    if (context.signal.aborted) {
      options.log.debug("stream cancelled by the client", { rpc: "Process" });
      return;
    }
    if (isProtocolError(error)) {
      options.log.warn("protocol error", {
        rpc: "Process",
        code: error.code,
        error: error.message,
      });
      throw new ConnectError(`${error.code}: ${error.message}`, Code.InvalidArgument);
    }
    if (error instanceof ConnectError) {
      // From the transport: an undecodable message, a message over the size limit, ...
      options.log.warn("stream failed", {
        rpc: "Process",
        code: Code[error.code],
        error: error.rawMessage,
      });
      throw error;
    }
    options.log.error("stream failed", { rpc: "Process", error: String(error) });
    throw new ConnectError("internal error", Code.Internal);
  }
}

function servingStatus(state: ReadinessState): HealthCheckResponse_ServingStatus {
  return state === "ready"
    ? HealthCheckResponse_ServingStatus.SERVING
    : HealthCheckResponse_ServingStatus.NOT_SERVING;
}

async function* watchReadiness(readiness: Readiness, signal: AbortSignal) {
  const pending: ReadinessState[] = [readiness.state];
  let wake: (() => void) | undefined;
  const unsubscribe = readiness.subscribe((state) => {
    pending.push(state);
    wake?.();
  });
  const onAbort = () => wake?.();
  signal.addEventListener("abort", onAbort);
  try {
    while (!signal.aborted) {
      const next = pending.shift();
      if (next !== undefined) {
        yield { status: servingStatus(next) };
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  } finally {
    unsubscribe();
    signal.removeEventListener("abort", onAbort);
  }
}
