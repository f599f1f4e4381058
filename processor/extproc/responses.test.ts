import assert from "node:assert/strict";
import { test } from "node:test";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { ProcessingMode_BodySendMode } from "../gen/envoy/extensions/filters/http/ext_proc/v3/processing_mode_pb.ts";
import {
  CommonResponse_ResponseStatus,
  ProcessingResponseSchema,
} from "../gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import { CONTINUE } from "../inspector/index.ts";
import {
  continueResponse,
  encodedResponseFor,
  immediateResponse,
  responseFor,
} from "./responses.ts";
import type { StreamEvent } from "./stream-state.ts";

const kinds: Array<[StreamEvent["kind"], string]> = [
  ["request-headers", "requestHeaders"],
  ["request-body", "requestBody"],
  ["request-trailers", "requestTrailers"],
  ["response-headers", "responseHeaders"],
  ["response-body", "responseBody"],
  ["response-trailers", "responseTrailers"],
];

for (const [kind, wire] of kinds) {
  test(`CONTINUE to ${kind} is a ${wire} reply without mutation or override`, () => {
    const response = continueResponse(kind, CONTINUE);
    assert.equal(response.response.case, wire);
    assert.equal(response.modeOverride, undefined);
    const value = response.response.value;
    if (value && "response" in value) {
      assert.equal(value.response?.status, CommonResponse_ResponseStatus.CONTINUE);
      assert.equal(value.response?.headerMutation, undefined);
    }
  });
}

test("a streamed body mode on request headers overrides only the request body mode", () => {
  const response = continueResponse("request-headers", { kind: "continue", bodyMode: "streamed" });
  assert.equal(response.modeOverride?.requestBodyMode, ProcessingMode_BodySendMode.STREAMED);
  assert.equal(response.modeOverride?.responseBodyMode, ProcessingMode_BodySendMode.NONE);
});

test("a streamed body mode on response headers overrides only the response body mode", () => {
  const response = continueResponse("response-headers", { kind: "continue", bodyMode: "streamed" });
  assert.equal(response.modeOverride?.responseBodyMode, ProcessingMode_BodySendMode.STREAMED);
  assert.equal(response.modeOverride?.requestBodyMode, ProcessingMode_BodySendMode.NONE);
});

test("a buffered-partial body mode becomes BUFFERED_PARTIAL", () => {
  const response = continueResponse("response-headers", {
    kind: "continue",
    bodyMode: "buffered-partial",
  });
  assert.equal(
    response.modeOverride?.responseBodyMode,
    ProcessingMode_BodySendMode.BUFFERED_PARTIAL,
  );
});

test("header mutations are written as raw_value only (never both value and raw_value)", () => {
  const response = continueResponse("request-headers", {
    kind: "continue",
    setHeaders: [["x-datadog-trace-id", "123"]],
  });
  assert.equal(response.response.case, "requestHeaders");
  const option = response.response.value?.response?.headerMutation?.setHeaders[0];
  assert.equal(option?.header?.key, "x-datadog-trace-id");
  assert.equal(option?.header?.value, "");
  assert.equal(new TextDecoder().decode(option?.header?.rawValue), "123");
  assert.equal(option?.append, undefined);
});

test("an immediate verdict becomes an ImmediateResponse whatever the message kind", () => {
  const body = new TextEncoder().encode('{"errors":[]}');
  for (const [kind] of kinds) {
    const response = responseFor(kind, {
      kind: "immediate",
      status: 403,
      headers: [
        ["content-type", "application/json"],
        ["content-length", String(body.length)],
      ],
      body,
      details: "blocked",
    });
    assert.equal(response.response.case, "immediateResponse");
  }
});

test("ImmediateResponse carries status, headers, body and details, and no grpc_status", () => {
  const body = new TextEncoder().encode("<html></html>");
  const response = immediateResponse({
    kind: "immediate",
    status: 303,
    headers: [["location", "/blocked"]],
    body,
    details: "aap_redirect",
  });
  assert.equal(response.response.case, "immediateResponse");
  const value = response.response.value;
  assert.equal(value?.status?.code, 303);
  assert.equal(value?.headers?.setHeaders[0]?.header?.key, "location");
  assert.deepEqual(value?.body, body);
  assert.equal(value?.details, "aap_redirect");
  assert.equal(value?.grpcStatus, undefined);
});

for (const [kind] of kinds) {
  for (const bodyMode of [undefined, "streamed", "buffered-partial"] as const) {
    test(`the encoded CONTINUE to ${kind} (body mode ${bodyMode ?? "none"}) is the message's encoding`, () => {
      const verdict = { kind: "continue" as const, ...(bodyMode ? { bodyMode } : {}) };
      const expected = toBinary(ProcessingResponseSchema, responseFor(kind, verdict));
      assert.deepEqual(encodedResponseFor(kind, verdict), expected);
      // The second call is served from the cache and still the same bytes.
      assert.deepEqual(encodedResponseFor(kind, verdict), expected);
    });
  }
}

test("an encoded CONTINUE with header mutations carries them (never a cached reply)", () => {
  const plain = encodedResponseFor("request-headers", CONTINUE);
  const bytes = encodedResponseFor("request-headers", {
    kind: "continue",
    setHeaders: [["x-datadog-trace-id", "1"]],
  });
  assert.notDeepEqual(bytes, plain);
  const decoded = fromBinary(ProcessingResponseSchema, bytes);
  assert.equal(decoded.response.case, "requestHeaders");
  const mutation =
    decoded.response.case === "requestHeaders"
      ? decoded.response.value.response?.headerMutation
      : undefined;
  assert.equal(mutation?.setHeaders[0]?.header?.key, "x-datadog-trace-id");
});

test("an encoded immediate verdict is the ImmediateResponse's encoding", () => {
  const verdict = {
    kind: "immediate" as const,
    status: 403,
    headers: [["content-type", "application/json"]] as const,
    body: new TextEncoder().encode("{}"),
    details: "aap_blocked",
  };
  assert.deepEqual(
    encodedResponseFor("request-headers", verdict),
    toBinary(ProcessingResponseSchema, immediateResponse(verdict)),
  );
});
