/**
 * The effective settings of Envoy's ext_proc filter, read from a decoded `ExternalProcessor` the way
 * Envoy reads it (docs/envoy-filter.md), plus the two knobs that live outside the filter
 * config: Envoy's buffer limit and `status_on_error` (absent from the pinned protos).
 */
import type { Duration } from "@bufbuild/protobuf/wkt";
import type { ExternalProcessor } from "../../../processor/gen/envoy/extensions/filters/http/ext_proc/v3/ext_proc_pb.ts";
import {
  type ProcessingMode,
  ProcessingMode_BodySendMode,
  ProcessingMode_HeaderSendMode,
} from "../../../processor/gen/envoy/extensions/filters/http/ext_proc/v3/processing_mode_pb.ts";

/** A body send mode by name. */
export type BodyMode = "NONE" | "STREAMED" | "BUFFERED" | "BUFFERED_PARTIAL";

/** What Envoy sends for one direction. */
export interface DirectionModes {
  readonly headers: boolean;
  readonly body: BodyMode;
  readonly trailers: boolean;
}

/** The send modes of both directions, as Envoy's decoding and encoding states hold them. */
export interface Modes {
  readonly request: DirectionModes;
  readonly response: DirectionModes;
}

/** Settings that are not part of the `ExternalProcessor` message. */
export interface EnvoyOptions {
  /** Connection buffer limit for BUFFERED(_PARTIAL) bodies; Envoy's default is 1 MiB. */
  bufferLimitBytes?: number;
  /** HTTP status of the error local reply when failing closed; Envoy's default is 500. */
  statusOnError?: number;
}

/** The filter as the client runs it. Durations are in milliseconds. */
export interface FilterSettings {
  readonly modes: Modes;
  readonly allowModeOverride: boolean;
  readonly failureModeAllow: boolean;
  readonly disableImmediateResponse: boolean;
  readonly observabilityMode: boolean;
  /** Per message, default 200 ms; not used in observability mode. */
  readonly messageTimeoutMs: number;
  /** Bound of `override_message_timeout`; undefined means the server may not extend. */
  readonly maxMessageTimeoutMs: number | undefined;
  /** Observability mode only: how long the stream outlives the HTTP exchange (default 5000 ms). */
  readonly deferredCloseTimeoutMs: number;
  /** `grpc_service.initial_metadata`, sent on every stream. */
  readonly initialMetadata: Readonly<Record<string, string>>;
  readonly bufferLimitBytes: number;
  readonly statusOnError: number;
}

const BODY_MODES: Record<number, BodyMode> = {
  [ProcessingMode_BodySendMode.NONE]: "NONE",
  [ProcessingMode_BodySendMode.STREAMED]: "STREAMED",
  [ProcessingMode_BodySendMode.BUFFERED]: "BUFFERED",
  [ProcessingMode_BodySendMode.BUFFERED_PARTIAL]: "BUFFERED_PARTIAL",
};

function bodyMode(value: number): BodyMode {
  const mode = BODY_MODES[value];
  if (mode === undefined) throw new Error(`unsupported body send mode ${value}`);
  return mode;
}

/**
 * The modes a `ProcessingMode` stands for. Envoy applies a filter config and a `mode_override`
 * the same way (processor_state.cc `setProcessingModeInternal`): headers are sent unless SKIP,
 * trailers only when SEND, and the body mode is taken as is. An override therefore replaces every
 * field, including the other direction's, not only the ones the server set.
 */
export function modesFrom(mode: ProcessingMode | undefined): Modes {
  const HeaderSkip = ProcessingMode_HeaderSendMode.SKIP;
  const TrailerSend = ProcessingMode_HeaderSendMode.SEND;
  return {
    request: {
      headers: mode?.requestHeaderMode !== HeaderSkip,
      body: bodyMode(mode?.requestBodyMode ?? 0),
      trailers: mode?.requestTrailerMode === TrailerSend,
    },
    response: {
      headers: mode?.responseHeaderMode !== HeaderSkip,
      body: bodyMode(mode?.responseBodyMode ?? 0),
      trailers: mode?.responseTrailerMode === TrailerSend,
    },
  };
}

/** A protobuf Duration in milliseconds, or `fallback` when unset. */
export function durationMs(duration: Duration | undefined, fallback: number): number {
  if (duration === undefined) return fallback;
  return Number(duration.seconds) * 1000 + Math.round(duration.nanos / 1e6);
}

/** Reads the filter config. Throws on what Envoy's config validation rejects. */
export function filterSettings(
  config: ExternalProcessor,
  options: EnvoyOptions = {},
): FilterSettings {
  const modes = modesFrom(config.processingMode);
  if (config.observabilityMode) {
    for (const body of [modes.request.body, modes.response.body]) {
      if (body !== "NONE" && body !== "STREAMED") {
        throw new Error(`observability_mode supports STREAMED or NONE bodies, not ${body}`);
      }
    }
  }
  const initialMetadata: Record<string, string> = {};
  const decoder = new TextDecoder();
  for (const header of config.grpcService?.initialMetadata ?? []) {
    initialMetadata[header.key] =
      header.rawValue.length > 0 ? decoder.decode(header.rawValue) : header.value;
  }
  return {
    modes,
    allowModeOverride: config.allowModeOverride,
    failureModeAllow: config.failureModeAllow,
    disableImmediateResponse: config.disableImmediateResponse,
    observabilityMode: config.observabilityMode,
    messageTimeoutMs: durationMs(config.messageTimeout, 200),
    maxMessageTimeoutMs:
      config.maxMessageTimeout === undefined ? undefined : durationMs(config.maxMessageTimeout, 0),
    deferredCloseTimeoutMs: durationMs(config.deferredCloseTimeout, 5000),
    initialMetadata,
    bufferLimitBytes: options.bufferLimitBytes ?? 1024 * 1024,
    statusOnError: options.statusOnError ?? 500,
  };
}
