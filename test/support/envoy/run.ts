/**
 * The per-request state of Envoy's ext_proc filter: the lazily opened stream, the send modes (which
 * a `mode_override` may replace), and the error path (docs/envoy-filter.md#ending-and-errors): a
 * timeout, a non-OK close, a spurious or wrong-kind reply either fails open (the request goes on
 * without the server) or fails closed (504 for a timeout, `status_on_error` otherwise). A clean
 * close (OK) means "continue without me".
 */
import type {
  ImmediateResponse,
  ProcessingRequest,
  ProcessingResponse,
} from "../../../processor/gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import type { Client } from "../grpc-client.ts";
import { type FilterSettings, type Modes, modesFrom } from "./settings.ts";
import { ProcessorStream } from "./stream.ts";

/** Why the filter gave up on the server. */
export type Failure = "timeout" | "error" | "spurious" | "invalid-mutation";

/** A reply of the expected kind, by kind. */
type ReplyOf<K extends string> = Extract<ProcessingResponse["response"], { case: K }>["value"];

/** The reply kinds a message kind may get (besides an ImmediateResponse). */
export type ReplyKind = Exclude<
  ProcessingResponse["response"]["case"],
  "immediateResponse" | undefined
>;

/** What asking the server about one message gives. */
export type Answer<K extends ReplyKind> =
  | { kind: "reply"; value: ReplyOf<K> }
  /** Go on unmodified: the server is out of the loop (clean close, fail-open, earlier verdict). */
  | { kind: "skip" }
  | { kind: "immediate"; value: ImmediateResponse }
  /** Fail closed with this HTTP status. */
  | { kind: "fail"; status: number };

/** One HTTP exchange's view of the filter. */
export class FilterRun {
  modes: Modes;
  /** No more messages go to the server for this request. */
  done = false;
  failure: Failure | undefined;
  failedOpen = false;
  serverClosed = false;
  stream: ProcessorStream | undefined;

  readonly #client: Client;
  readonly settings: FilterSettings;

  constructor(client: Client, settings: FilterSettings) {
    this.#client = client;
    this.settings = settings;
    this.modes = settings.modes;
  }

  /** The stream, opened on the first message Envoy needs to send. */
  open(): ProcessorStream {
    this.stream ??= new ProcessorStream(this.#client, this.settings.initialMetadata, this.settings);
    return this.stream;
  }

  /** Sends `message` and interprets the reply as Envoy's `onReceiveMessage` does. */
  async ask<K extends ReplyKind>(message: ProcessingRequest, expected: K): Promise<Answer<K>> {
    if (this.done) return { kind: "skip" };
    const awaited = await this.open().exchange(message);
    switch (awaited.kind) {
      case "timeout":
        return this.fail("timeout");
      case "spurious":
        return this.fail("spurious");
      case "closed":
        if (awaited.code !== 0) return this.fail("error");
        // Clean close: Envoy stops consulting the server and continues
        // (docs/envoy-filter.md#ending-and-errors).
        this.done = true;
        this.serverClosed = true;
        return { kind: "skip" };
      case "reply":
        return this.#onReply(awaited.message, expected);
    }
  }

  #onReply<K extends ReplyKind>(message: ProcessingResponse, expected: K): Answer<K> {
    const response = message.response;
    if (response.case === "immediateResponse") {
      if (this.settings.disableImmediateResponse) return this.fail("spurious");
      this.done = true;
      this.stream?.halfClose();
      return { kind: "immediate", value: response.value };
    }
    if (response.case !== expected) return this.fail("spurious");
    // Honoured only on header replies and only when allowed (ext_proc.cc onReceiveMessage); the
    // override replaces the modes of both directions for the rest of this request.
    const onHeaders = expected === "requestHeaders" || expected === "responseHeaders";
    if (onHeaders && this.settings.allowModeOverride && message.modeOverride !== undefined) {
      this.modes = modesFrom(message.modeOverride);
    }
    return { kind: "reply", value: response.value as ReplyOf<K> };
  }

  /** Takes the error path for `failure`. */
  fail(failure: Failure): { kind: "skip" } | { kind: "fail"; status: number } {
    this.done = true;
    this.failure = failure;
    this.stream?.cancel();
    // A mutation Envoy cannot apply is a local 500 whatever failure_mode_allow says.
    if (failure !== "invalid-mutation" && this.settings.failureModeAllow) {
      this.failedOpen = true;
      return { kind: "skip" };
    }
    const status =
      failure === "timeout"
        ? 504
        : failure === "invalid-mutation"
          ? 500
          : this.settings.statusOnError;
    return { kind: "fail", status };
  }

  /** Checks for a reply that arrived while nothing was outstanding (e.g. during the upstream call). */
  checkSpurious(): { kind: "skip" } | { kind: "fail"; status: number } | undefined {
    if (this.done || this.stream === undefined || !this.stream.spurious) return undefined;
    return this.fail("spurious");
  }
}
