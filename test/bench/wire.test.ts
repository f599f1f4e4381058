import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { ProcessingMode_BodySendMode as Mode } from "../../processor/gen/envoy/extensions/filters/http/ext_proc/v3/processing_mode_pb.ts";
import {
  type ProcessingResponse,
  ProcessingResponseSchema,
} from "../../processor/gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import {
  checkPeek,
  FrameReader,
  hasOverride,
  peekReply,
  Reply,
  replyOf,
  requestBodyModeOf,
  responseBodyModeOf,
  responseHeaderModeOf,
} from "./wire.ts";

const common = {
  response: {
    headerMutation: { setHeaders: [{ header: { key: "x-a", rawValue: new Uint8Array(300) } }] },
  },
};

const replies: Array<[string, ProcessingResponse, number, [number, number, number] | undefined]> = [
  [
    "request headers, STREAMED request body asked",
    create(ProcessingResponseSchema, {
      response: { case: "requestHeaders", value: {} },
      modeOverride: { requestBodyMode: Mode.STREAMED },
    }),
    Reply.requestHeaders,
    [Mode.STREAMED, Mode.NONE, 0],
  ],
  [
    "response headers with a mutation, BUFFERED_PARTIAL response body, headers skipped",
    create(ProcessingResponseSchema, {
      response: { case: "responseHeaders", value: common },
      modeOverride: { responseBodyMode: Mode.BUFFERED_PARTIAL, responseHeaderMode: 2 },
    }),
    Reply.responseHeaders,
    [Mode.NONE, Mode.BUFFERED_PARTIAL, 2],
  ],
  [
    "request body with dynamic metadata and a message timeout override",
    create(ProcessingResponseSchema, {
      response: { case: "requestBody", value: common },
      dynamicMetadata: { a: { b: [1, "two", true] } },
      overrideMessageTimeout: { seconds: 5n },
    }),
    Reply.requestBody,
    undefined,
  ],
  [
    "response body",
    create(ProcessingResponseSchema, { response: { case: "responseBody", value: {} } }),
    Reply.responseBody,
    undefined,
  ],
  [
    "immediate response with a 20 KiB body",
    create(ProcessingResponseSchema, {
      response: {
        case: "immediateResponse",
        value: { status: { code: 403 }, body: new Uint8Array(20_000), details: "blocked" },
      },
    }),
    Reply.immediateResponse,
    undefined,
  ],
  ["empty", create(ProcessingResponseSchema, {}), Reply.none, undefined],
];

for (const [name, message, reply, modes] of replies) {
  test(`peek: ${name}`, () => {
    const bytes = toBinary(ProcessingResponseSchema, message);
    const peek = peekReply(bytes);
    assert.equal(replyOf(peek), reply);
    assert.equal(hasOverride(peek), modes !== undefined);
    if (modes !== undefined) {
      assert.deepEqual(
        [requestBodyModeOf(peek), responseBodyModeOf(peek), responseHeaderModeOf(peek)],
        modes,
      );
    }
    assert.equal(checkPeek(bytes, peek), undefined);
  });
}

test("peek: truncated bytes throw", () => {
  const bytes = toBinary(
    ProcessingResponseSchema,
    replies[1]?.[1] ?? create(ProcessingResponseSchema),
  );
  assert.throws(() => peekReply(bytes.subarray(0, bytes.length - 3)), RangeError);
});

test("frames: split across chunks, and several in one chunk", () => {
  const frame = (n: number) => Buffer.from([0, 0, 0, 0, n, ...new Uint8Array(n).fill(n)]);
  const seen: number[] = [];
  const reader = new FrameReader();
  const sink = { onMessage: (message: Buffer) => seen.push(message.length) };
  const two = Buffer.concat([frame(3), frame(7)]);
  reader.push(two.subarray(0, 2), sink);
  reader.push(two.subarray(2, 9), sink);
  reader.push(Buffer.concat([two.subarray(9), frame(0), frame(1)]), sink);
  assert.deepEqual(seen, [3, 7, 0, 1]);
});
