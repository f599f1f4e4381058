import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { requestHeaders } from "../../test/support/messages.ts";
import { HeaderMapSchema, HeaderValueSchema } from "../gen/envoy/config/core/v3/base_pb.ts";
import {
  HttpBodySchema,
  ProcessingRequestSchema,
} from "../gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import { bodyChunk, exchangeInfo, headerEntries, headersMessage } from "./messages.ts";

const call = (metadata: Record<string, string> = {}) => ({ metadata: (k: string) => metadata[k] });

test("header values come from raw_value, else value; invalid UTF-8 becomes U+FFFD", () => {
  const map = create(HeaderMapSchema, {
    headers: [
      create(HeaderValueSchema, { key: "a", rawValue: new TextEncoder().encode("raw") }),
      create(HeaderValueSchema, { key: "b", value: "plain" }),
      create(HeaderValueSchema, { key: "c", rawValue: Uint8Array.of(0x61, 0xff) }),
    ],
  });
  assert.deepEqual(headerEntries(map), [
    { key: "a", value: "raw" },
    { key: "b", value: "plain" },
    { key: "c", value: "a\uFFFD" },
  ]);
  assert.deepEqual(headerEntries(undefined), []);
});

test("headers and body chunks keep their end-of-stream flag", () => {
  const message = requestHeaders([[":method", "GET"]], true);
  assert.ok(message.request.case === "requestHeaders");
  assert.deepEqual(headersMessage(message.request.value), {
    headers: [{ key: ":method", value: "GET" }],
    endOfStream: true,
  });
  const body = create(HttpBodySchema, { body: Uint8Array.of(1, 2), endOfStream: false });
  assert.deepEqual(bodyChunk(body), { bytes: Uint8Array.of(1, 2), endOfStream: false });
});

test("the exchange: integration from the metadata, peer from source.address, observability flag", () => {
  const message = create(ProcessingRequestSchema, {
    attributes: { "envoy.filters.http.ext_proc": { "source.address": "10.1.2.3:4000" } },
    observabilityMode: true,
  });
  assert.deepEqual(exchangeInfo(message, call({ "x-datadog-istio-integration": "1" })), {
    integration: "istio",
    remoteAddress: "10.1.2.3:4000",
    observabilityMode: true,
  });
  const bare = create(ProcessingRequestSchema, {
    attributes: { "envoy.filters.http.ext_proc": { "source.address": 42 } },
  });
  assert.deepEqual(exchangeInfo(bare, call()), {
    integration: "envoy",
    remoteAddress: undefined,
    observabilityMode: false,
  });
});
