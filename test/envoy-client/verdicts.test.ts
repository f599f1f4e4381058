/**
 * Header mutations and ImmediateResponse: what the upstream and the user get
 * (docs/envoy-filter.md#replies).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import {
  HeaderValueOption_HeaderAppendAction as Append,
  HeaderValueOptionSchema,
  HeaderValueSchema,
} from "../../processor/gen/envoy/config/core/v3/base_pb.ts";
import { ProcessingMode_BodySendMode as Body } from "../../processor/gen/envoy/extensions/filters/http/ext_proc/v3/processing_mode_pb.ts";
import { CommonResponse_ResponseStatus } from "../../processor/gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import { headerValue, headerValues } from "../support/envoy/index.ts";
import { continueFor, immediate } from "./fake-processor.ts";
import { GET, harness, post } from "./harness.ts";

describe("header mutations", () => {
  test("set_headers (raw_value) and append_action shape the forwarded request", async () => {
    const h = await harness((m) =>
      continueFor(
        m,
        m.request.case === "requestHeaders"
          ? {
              set: [
                ["x-waf", "seen"],
                ["user-agent", "rewritten"],
                ["accept", "text/html", Append.ADD_IF_ABSENT],
                ["x-new-only", "no", Append.OVERWRITE_IF_EXISTS],
                ["x-multi", "b", Append.ADD_IF_ABSENT],
              ],
              remove: ["x-remove-me"],
            }
          : {},
      ),
    );
    await h.send({
      ...GET,
      headers: {
        host: "h",
        "user-agent": "curl/8",
        accept: "*/*",
        "x-remove-me": "1",
        "x-multi": "a",
      },
    });
    const forwarded = h.upstreamCalls[0]?.headers ?? [];
    assert.equal(headerValue(forwarded, "x-waf"), "seen");
    assert.equal(
      headerValue(forwarded, "user-agent"),
      "rewritten",
      "unset append_action overwrites",
    );
    assert.equal(headerValue(forwarded, "accept"), "*/*", "ADD_IF_ABSENT keeps the existing value");
    assert.equal(
      headerValue(forwarded, "x-new-only"),
      undefined,
      "OVERWRITE_IF_EXISTS adds nothing",
    );
    assert.deepEqual(headerValues(forwarded, "x-multi"), ["a"]);
    assert.equal(headerValue(forwarded, "x-remove-me"), undefined);
  });

  test("append: true adds a second value", async () => {
    const h = await harness((m) => {
      const reply = continueFor(m);
      if (reply.response.case === "requestHeaders") {
        reply.response.value.response?.headerMutation?.setHeaders.push(
          create(HeaderValueOptionSchema, {
            header: create(HeaderValueSchema, {
              key: "x-tag",
              rawValue: new TextEncoder().encode("two"),
            }),
            append: true,
          }),
        );
      }
      return reply;
    });
    await h.send({ ...GET, headers: { host: "h", "x-tag": "one" } });
    assert.deepEqual(headerValues(h.upstreamCalls[0]?.headers ?? [], "x-tag"), ["one", "two"]);
  });

  test("host, :authority, :method and x-envoy-* are not mutable by default; :path is", async () => {
    const h = await harness((m) =>
      continueFor(
        m,
        m.request.case === "requestHeaders"
          ? {
              set: [
                [":authority", "evil"],
                ["host", "evil"],
                [":method", "DELETE"],
                ["x-envoy-foo", "1"],
                [":path", "/rewritten"],
              ],
            }
          : {},
      ),
    );
    await h.send(GET);
    const call = h.upstreamCalls[0];
    assert.equal(call?.authority, "app.example.com");
    assert.equal(call?.method, "GET");
    assert.equal(call?.path, "/rewritten");
    assert.equal(headerValue(call?.headers ?? [], "x-envoy-foo"), undefined);
  });

  test("setting both value and raw_value is a local 500, even when failing open", async () => {
    const h = await harness(
      (m) => {
        const reply = continueFor(m, { set: [["x-a", "raw"]] });
        const option =
          reply.response.case === "requestHeaders"
            ? reply.response.value.response?.headerMutation?.setHeaders[0]
            : undefined;
        if (option?.header) option.header.value = "plain";
        return reply;
      },
      { failureModeAllow: true },
    );
    const result = await h.send(GET);
    assert.equal(result.status, 500);
    assert.equal(result.failure, "invalid-mutation");
    assert.equal(result.reachedUpstream, false);
  });

  test("response header mutations reach the user, :status included", async () => {
    const h = await harness((m) =>
      continueFor(
        m,
        m.request.case === "responseHeaders"
          ? {
              set: [
                ["x-frame-options", "DENY"],
                [":status", "202"],
              ],
            }
          : {},
      ),
    );
    const result = await h.send(GET);
    assert.equal(result.status, 202);
    assert.equal(headerValue(result.headers, "x-frame-options"), "DENY");
  });

  test("header_mutation on a BUFFERED body reply applies; on a STREAMED one it does not", async () => {
    for (const [mode, expected] of [
      [Body.BUFFERED, "yes"],
      [Body.STREAMED, undefined],
    ] as const) {
      const h = await harness(
        (m) =>
          continueFor(m, m.request.case === "requestBody" ? { set: [["x-body-seen", "yes"]] } : {}),
        {
          mode: { requestBodyMode: mode },
        },
      );
      await h.send(post("payload"));
      assert.equal(
        headerValue(h.upstreamCalls[0]?.headers ?? [], "x-body-seen"),
        expected,
        `mode ${mode}`,
      );
    }
  });

  test("body mutations replace what the upstream gets; CONTINUE_AND_REPLACE skips the body messages", async () => {
    const h = await harness(
      (m) => continueFor(m, m.request.case === "requestBody" ? { body: "REDACTED" } : {}),
      {
        mode: { requestBodyMode: Body.BUFFERED },
      },
    );
    await h.send(post("secret"));
    assert.equal(new TextDecoder().decode(h.upstreamCalls[0]?.body), "REDACTED");
    assert.equal(headerValue(h.upstreamCalls[0]?.headers ?? [], "content-length"), "8");

    const r = await harness(
      (m) =>
        continueFor(
          m,
          m.request.case === "requestHeaders"
            ? {
                body: "new",
                common: { status: CommonResponse_ResponseStatus.CONTINUE_AND_REPLACE },
              }
            : {},
        ),
      { mode: { requestBodyMode: Body.STREAMED } },
    );
    const result = await r.send(post("old body"));
    assert.deepEqual(result.sent, ["requestHeaders", "responseHeaders"]);
    assert.equal(new TextDecoder().decode(r.upstreamCalls[0]?.body), "new");
  });
});

describe("ImmediateResponse", () => {
  const blockPage = '{"errors":[{"title":"You\'ve been blocked"}]}';

  test("on request headers becomes the local reply; the upstream is never called", async () => {
    const h = await harness(() =>
      immediate(403, blockPage, { "content-type": "application/json" }, "blocked"),
    );
    const result = await h.send(GET);
    assert.equal(result.status, 403);
    assert.equal(result.text, blockPage);
    assert.equal(headerValue(result.headers, "content-type"), "application/json");
    assert.equal(headerValue(result.headers, "content-length"), String(blockPage.length));
    assert.equal(result.localReply, "immediate");
    assert.equal(result.details, "blocked");
    assert.equal(result.reachedUpstream, false);
    assert.equal(h.upstreamCalls.length, 0);
    assert.deepEqual(result.sent, ["requestHeaders"], "nothing is sent after an ImmediateResponse");
  });

  test("a body without content-type is sent as text/plain", async () => {
    const h = await harness(() => immediate(403, "blocked"));
    const result = await h.send(GET);
    assert.equal(headerValue(result.headers, "content-type"), "text/plain");
  });

  test("on a STREAMED request body chunk: headers already went upstream, which is reset", async () => {
    const h = await harness(
      (m) => (m.request.case === "requestBody" ? immediate(403, "no") : continueFor(m)),
      {
        mode: { requestBodyMode: Body.STREAMED },
      },
    );
    const result = await h.send(post("attack"));
    assert.equal(result.status, 403);
    assert.equal(result.reachedUpstream, false);
    assert.ok(result.abortedUpstream, "the upstream saw the headers before the reset");
    assert.equal(result.abortedUpstream.body.length, 0);
  });

  test("on response headers replaces the upstream's response", async () => {
    const h = await harness((m) =>
      m.request.case === "responseHeaders" ? immediate(403, "no") : continueFor(m),
    );
    const result = await h.send(GET, () => ({ status: 200, body: "secret data" }));
    assert.equal(result.status, 403);
    assert.equal(result.text, "no");
    assert.equal(result.reachedUpstream, true);
    assert.equal(result.reset, false);
  });

  test("on a STREAMED response body chunk after the headers went out: the downstream is reset", async () => {
    const h = await harness(
      (m) =>
        m.request.case === "responseBody" && m.request.value.endOfStream
          ? immediate(403, "no")
          : continueFor(
              m,
              m.request.case === "responseHeaders"
                ? { modeOverride: { responseBodyMode: Body.STREAMED } }
                : {},
            ),
      { allowModeOverride: true },
    );
    const result = await h.send(GET, () => ({ status: 200, body: "0123456789" }));
    assert.equal(result.reset, true);
    assert.equal(result.status, 200, "the status line had already been sent");
    assert.equal(result.text, "", "no chunk was released before the block");
  });

  test("on a BUFFERED response body becomes the local reply", async () => {
    const h = await harness(
      (m) => (m.request.case === "responseBody" ? immediate(403, "no") : continueFor(m)),
      {
        mode: { responseBodyMode: Body.BUFFERED },
      },
    );
    const result = await h.send(GET, () => ({ status: 200, body: "leak" }));
    assert.equal(result.status, 403);
    assert.equal(result.reset, false);
    assert.equal(result.text, "no");
  });
});
