/**
 * Nothing sensitive leaves the processor in its logs, and secrets in security events are
 * obfuscated. Unique markers are planted in header values, cookies, query strings, paths, bodies
 * and trailers across benign, attack, error and malformed streams (and raw gRPC frames), sent to
 * the real processor at debug level, with the Agent up and with it down; then every line it wrote
 * on stdout and stderr is searched for the markers. The reported events are checked for a planted
 * password and token, which must read `<Redacted>`.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { toBinary } from "@bufbuild/protobuf";
import {
  type ProcessingRequest,
  ProcessingRequestSchema,
} from "../../processor/gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import { type AgentSpan, type FakeAgent, startFakeAgent } from "../support/fake-agent.ts";
import { createClient, openStream } from "../support/grpc-client.ts";
import {
  headerList,
  requestBody,
  requestHeaders,
  requestTrailers,
  responseBody,
  responseHeaders,
  responseTrailers,
} from "../support/messages.ts";
import { type ProcessorProcess, startProcessor } from "../support/processor-process.ts";
import { frame, rawCall } from "../support/raw-grpc.ts";

const TEST_RULES = fileURLToPath(new URL("../fixtures/rules/test-rules.json", import.meta.url));
const PROCESS_PATH = "/envoy.service.ext_proc.v3.ExternalProcessor/Process";

/** Planted secrets: letters and digits only, so they survive any encoding unchanged. */
class Markers {
  readonly all: string[] = [];
  plant(where: string): string {
    const marker = `PLANTED${where.replace(/[^a-z]/gi, "").toUpperCase()}${randomBytes(6).toString("hex")}`;
    this.all.push(marker);
    return marker;
  }
}

/** One stream: the messages sent in order (each waits for its reply, if any), then how it ends. */
interface Scenario {
  readonly name: string;
  readonly messages: ProcessingRequest[];
  readonly end?: "half-close" | "cancel";
}

const json = (value: unknown) => JSON.stringify(value);

/** The traffic: every kind of stream, each carrying its own markers wherever Envoy could put them. */
function scenarios(m: Markers): Scenario[] {
  const secretHeaders = () => ({
    authorization: `Bearer ${m.plant("authorization")}`,
    cookie: `session=${m.plant("cookie")}; theme=dark`,
    "x-api-key": m.plant("apikey"),
    "x-forwarded-for": `203.0.113.7, ${m.plant("xff")}`,
    referer: `https://example.com/?sso=${m.plant("referer")}`,
  });
  const get = (path: string, extra: Record<string, string> = {}) =>
    headerList("GET", path, { ...secretHeaders(), ...extra });
  const post = (path: string, contentType: string) =>
    headerList("POST", path, { ...secretHeaders(), "content-type": contentType });
  const ok = (extra: Record<string, string> = {}) => ({
    ":status": "200",
    "set-cookie": `sid=${m.plant("setcookie")}; HttpOnly`,
    ...extra,
  });
  const boundary = "XyZ";
  const multipart = [
    `--${boundary}`,
    `Content-Disposition: form-data; name="file"; filename="${m.plant("filename")}.txt"`,
    "Content-Type: text/plain",
    "",
    m.plant("filecontent"),
    `--${boundary}--`,
    "",
  ].join("\r\n");
  return [
    {
      name: "benign GET with secrets in the path, query, headers and cookies",
      messages: [
        requestHeaders(get(`/users/${m.plant("path")}/profile?token=${m.plant("query")}&q=hi`)),
        responseHeaders(ok()),
      ],
    },
    {
      name: "JSON request and response bodies",
      messages: [
        requestHeaders(post(`/login?next=${m.plant("query")}`, "application/json"), false),
        requestBody(json({ user: "bob", password: m.plant("jsonpassword") }), true),
        responseHeaders(ok({ "content-type": "application/json" }), false),
        responseBody(json({ token: m.plant("responsebody") }), true),
      ],
    },
    {
      name: "form, multipart, XML and text bodies",
      messages: [
        requestHeaders(post("/form", "application/x-www-form-urlencoded"), false),
        requestBody(`user=bob&password=${m.plant("formpassword")}`, true),
        responseHeaders(ok(), true),
      ],
    },
    {
      name: "multipart upload",
      messages: [
        requestHeaders(post("/upload", `multipart/form-data; boundary=${boundary}`), false),
        requestBody(multipart, true),
        responseHeaders(ok(), true),
      ],
    },
    {
      name: "XML with an entity",
      messages: [
        requestHeaders(post("/xml", "application/xml"), false),
        requestBody(
          `<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "${m.plant("xmlentity")}">]><a>&e;${m.plant("xmltext")}</a>`,
          true,
        ),
        responseHeaders(ok(), true),
      ],
    },
    {
      name: "trailers",
      messages: [
        requestHeaders(post("/grpc", "application/grpc"), false),
        requestBody(m.plant("grpcbody"), false),
        requestTrailers({ "x-trailer-secret": m.plant("requesttrailer") }),
        responseHeaders(ok(), false),
        responseTrailers({ "grpc-message": m.plant("responsetrailer") }),
      ],
    },
    {
      name: "attacks in the query, path, user agent and JSON body",
      messages: [
        requestHeaders(
          post(
            `/search?q=<script>alert('${m.plant("xss")}')</script>&id=1' OR '1'='1`,
            "application/json",
          ),
          false,
        ),
        requestBody(json({ q: `' UNION SELECT password FROM users -- ${m.plant("sqli")}` }), true),
        responseHeaders(ok(), true),
      ],
    },
    {
      name: "a scanner and a path traversal",
      messages: [
        requestHeaders(
          get(`/../../etc/passwd?file=${m.plant("traversal")}`, {
            "user-agent": `Arachni/v1.5.1 ${m.plant("useragent")}`,
          }),
        ),
        responseHeaders(ok(), true),
      ],
    },
    {
      name: "a gzip body and a corrupt gzip body",
      messages: [
        requestHeaders(
          headerList("POST", "/gz", {
            "content-type": "application/json",
            "content-encoding": "gzip",
          }),
          false,
        ),
        requestBody(gzipSync(json({ password: m.plant("gzipped") })), false),
        requestBody(`not gzip ${m.plant("corruptgzip")}`, true),
        responseHeaders(ok(), true),
      ],
    },
    {
      name: "malformed JSON and invalid UTF-8",
      messages: [
        requestHeaders(post("/bad", "application/json; charset=utf-8"), false),
        requestBody(
          Buffer.concat([
            Buffer.from(`{"password": "${m.plant("malformedjson")}", `),
            Buffer.from([0xff, 0xfe, 0xc3]),
          ]),
          true,
        ),
        responseHeaders(ok(), true),
      ],
    },
    {
      name: "response headers before request headers",
      messages: [responseHeaders(ok())],
    },
    {
      name: "request headers without :path",
      messages: [
        requestHeaders([
          [":method", "GET"],
          [":authority", m.plant("authority")],
          ["authorization", `Basic ${m.plant("basicauth")}`],
        ]),
      ],
    },
    {
      name: "an invalid :status",
      messages: [requestHeaders(get("/")), responseHeaders({ ":status": m.plant("status") })],
    },
    {
      name: "a second request headers message and a body after end of stream",
      messages: [
        requestHeaders(get("/twice"), false),
        requestHeaders(get(`/twice?again=${m.plant("duplicate")}`), false),
      ],
    },
    {
      name: "a body after end of stream",
      messages: [requestHeaders(get("/eos"), true), requestBody(m.plant("bodyaftereos"), true)],
    },
    {
      name: "a 64 KiB header value",
      messages: [
        requestHeaders(get("/big", { "x-big": `${m.plant("bigheader")}${"a".repeat(65536)}` })),
        responseHeaders(ok(), true),
      ],
    },
    {
      name: "a stream cancelled mid-body",
      messages: [
        requestHeaders(post("/cancel", "application/json"), false),
        requestBody(`{"password":"${m.plant("cancelled")}"`, false),
      ],
      end: "cancel",
    },
  ];
}

/** Plays one scenario; the stream may end early (errors, blocks), which is part of the test. */
async function play(target: string, scenario: Scenario, tls = false): Promise<void> {
  const client = createClient(target, tls ? { insecureSkipVerify: true } : {});
  try {
    const stream = openStream(client);
    for (const message of scenario.messages) {
      stream.send(message);
      const next = await stream.next(5000).catch(() => undefined);
      if (next === undefined || next.kind === "end") break;
    }
    if (scenario.end === "cancel") stream.cancel();
    else stream.end();
    await Promise.race([stream.status, new Promise((resolve) => setTimeout(resolve, 2000))]);
  } finally {
    client.close();
  }
}

/** Raw gRPC frames that are not ext_proc messages, with markers inside. */
async function playRawFrames(plaintextTarget: string, m: Markers): Promise<void> {
  const garbage = Buffer.concat([
    Buffer.from([0x0a, 0xff, 0xff]),
    Buffer.from(m.plant("rawframe")),
  ]);
  const valid = toBinary(
    ProcessingRequestSchema,
    requestHeaders(headerList("GET", `/raw?k=${m.plant("rawvalid")}`)),
  );
  await rawCall(plaintextTarget, PROCESS_PATH, [garbage]).catch(() => undefined);
  await rawCall(plaintextTarget, PROCESS_PATH, [valid, garbage]).catch(() => undefined);
  // A frame header announcing more bytes than sent, and a bogus compressed flag.
  await rawCall(plaintextTarget, PROCESS_PATH, [
    Buffer.concat([Buffer.from([1, 0, 0, 0, 40]), Buffer.from(m.plant("compressed"))]),
  ]).catch(() => undefined);
  await rawCall(plaintextTarget, PROCESS_PATH, [frame(valid).subarray(0, 12)]).catch(
    () => undefined,
  );
}

/** Every line the processor wrote, on stdout and stderr, as text. */
function allOutput(processor: ProcessorProcess): string {
  return [...processor.logs.map((line) => JSON.stringify(line)), ...processor.rawLines].join("\n");
}

/** The markers found in `text` (case-insensitive), with a little context for each. */
function leaks(text: string, markers: readonly string[]): string[] {
  const lower = text.toLowerCase();
  return markers.flatMap((marker) => {
    const at = lower.indexOf(marker.toLowerCase());
    return at < 0 ? [] : [`${marker}: …${text.slice(Math.max(0, at - 120), at + 60)}…`];
  });
}

/** The processor variants the traffic goes to. */
const VARIANTS = [
  {
    name: "recommended rules, Agent up, TLS, one process",
    env: {},
    agentDown: false,
    tls: true,
  },
  {
    name: "blocking test rules, Agent down, cleartext, two workers",
    env: { DD_APPSEC_RULES: TEST_RULES, DD_SERVICE_EXTENSION_WORKERS: "2" },
    agentDown: true,
    tls: false,
  },
] as const;

test("the scan finds a marker in any case, inside JSON and raw lines (self-test)", () => {
  const markers = new Markers();
  const marker = markers.plant("selftest");
  assert.equal(
    leaks(JSON.stringify({ msg: `x ${marker.toLowerCase()} y` }), markers.all).length,
    1,
  );
  assert.equal(leaks(`raw ${marker}`, markers.all).length, 1);
  assert.deepEqual(leaks("nothing here", markers.all), []);
});

describe("nothing planted in requests reaches the processor's logs (debug level)", () => {
  for (const variant of VARIANTS) {
    test(variant.name, async (t) => {
      const agent = await startFakeAgent({ down: variant.agentDown });
      t.after(() => agent.stop());
      const markers = new Markers();
      const processor = await startProcessor({
        DD_SERVICE_EXTENSION_LOG_LEVEL: "debug",
        DD_SERVICE_EXTENSION_TLS: String(variant.tls),
        DD_SERVICE_EXTENSION_TLS_CERT_FILE: "/nonexistent/tls.crt",
        DD_SERVICE_EXTENSION_TLS_KEY_FILE: "/nonexistent/tls.key",
        DD_AGENT_HOST: "127.0.0.1",
        DD_TRACE_AGENT_PORT: String(agent.port),
        DD_APPSEC_WAF_TIMEOUT: "1s",
        ...variant.env,
      });
      t.after(() => processor.stop());
      const target = `127.0.0.1:${processor.grpcPort}`;
      const played = scenarios(markers);
      for (const scenario of played) await play(target, scenario, variant.tls);
      if (!variant.tls) await playRawFrames(target, markers);
      processor.kill("SIGTERM");
      assert.equal(await processor.exited, 0);

      const output = allOutput(processor);
      // The test means something only if the processor did log about these streams.
      const streamLines = processor.logs.filter((line) => line.msg === "stream end");
      assert.ok(streamLines.length >= played.length - 2, `only ${streamLines.length} stream lines`);
      assert.ok(
        processor.logs.some((line) => line.level === "warn" || line.level === "error"),
        "errors were logged",
      );
      assert.ok(markers.all.length > 40);
      assert.deepEqual(leaks(output, markers.all), []);
    });
  }
});

describe("security events obfuscate planted secrets", () => {
  let agent: FakeAgent;
  let processor: ProcessorProcess;
  before(async () => {
    agent = await startFakeAgent();
    processor = await startProcessor({
      DD_SERVICE_EXTENSION_TLS: "false",
      DD_AGENT_HOST: "127.0.0.1",
      DD_TRACE_AGENT_PORT: String(agent.port),
      DD_APPSEC_WAF_TIMEOUT: "1s",
    });
  });
  after(async () => {
    processor.kill();
    await processor.exited;
    await agent.stop();
  });

  /** Sends an attack on `path` (in a JSON body when given) and returns its span once the Agent has it. */
  async function attackSpan(path: string, jsonBody?: unknown): Promise<AgentSpan> {
    const route = path.split("?")[0] ?? path;
    const request =
      jsonBody === undefined
        ? [requestHeaders(headerList("GET", path))]
        : [
            requestHeaders(headerList("POST", path, { "content-type": "application/json" }), false),
            requestBody(JSON.stringify(jsonBody), true),
          ];
    await play(`127.0.0.1:${processor.grpcPort}`, {
      name: path,
      messages: [...request, responseHeaders({ ":status": "200" })],
    });
    const [span] = await agent.waitForSpans(
      (s) =>
        s.meta["http.url"]?.includes(route) === true && s.meta["_dd.appsec.json"] !== undefined,
      10_000,
    );
    assert.ok(span, `no span with a security event for ${route}`);
    return span;
  }

  /** The whole span as text (ids are bigints). */
  const spanText = (span: AgentSpan) =>
    JSON.stringify(span, (_, value) => (typeof value === "bigint" ? String(value) : value));
  const triggers = (span: AgentSpan) =>
    JSON.stringify(
      (JSON.parse(span.meta["_dd.appsec.json"] ?? "{}") as { triggers: unknown }).triggers,
    );

  test("a password parameter's value is <Redacted> in the event", async () => {
    const password = `Pw${randomBytes(6).toString("hex")}`;
    const span = await attackSpan(`/obf-password?password=<script>alert(1)</script>${password}`);
    const event = triggers(span);
    assert.match(event, /<Redacted>/);
    assert.doesNotMatch(event, new RegExp(password));
    assert.equal(spanText(span).includes(password), false, "nowhere in the span");
  });

  test("a token inside an attack value is <Redacted> in the event", async () => {
    const token = `tk${randomBytes(6).toString("hex")}`;
    const span = await attackSpan(`/obf-token?q=<script>alert(1)</script>access_token=${token}`);
    const event = triggers(span);
    assert.match(event, /<Redacted>/);
    assert.doesNotMatch(event, new RegExp(token));
    assert.equal(spanText(span).includes(token), false, "nowhere in the span");
  });

  test("a password in a JSON body is <Redacted> in the event", async () => {
    const password = `Pb${randomBytes(6).toString("hex")}`;
    const span = await attackSpan("/obf-body", {
      user: "bob",
      password: `' UNION SELECT * FROM users -- ${password}`,
    });
    const event = triggers(span);
    assert.match(event, /server\.request\.body/);
    assert.match(event, /<Redacted>/);
    assert.doesNotMatch(event, new RegExp(password));
    assert.equal(spanText(span).includes(password), false, "nowhere in the span");
  });

  test("a bearer token next to an attack is <Redacted> in the event", async () => {
    const token = `bt${randomBytes(6).toString("hex")}`;
    const span = await attackSpan(`/obf-bearer?q=<script>alert(1)</script>Bearer%20${token}`);
    const event = triggers(span);
    assert.match(event, /<Redacted>/);
    assert.doesNotMatch(event, new RegExp(token));
    assert.equal(spanText(span).includes(token), false, "nowhere in the span");
  });
});
