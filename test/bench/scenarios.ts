/**
 * The HTTP exchanges the benchmark replays, and their ext_proc messages encoded once as gRPC frames
 * (`Plan`), so the load generator only writes bytes. Headers look like what Envoy forwards for a
 * browser behind an ingress gateway; header values go in `raw_value`, as Envoy sends them.
 */
import { create } from "@bufbuild/protobuf";
import {
  HeaderMapSchema,
  HeaderValueSchema,
} from "../../processor/gen/envoy/config/core/v3/base_pb.ts";
import {
  HttpBodySchema,
  HttpHeadersSchema,
  type ProcessingRequest,
  ProcessingRequestSchema,
} from "../../processor/gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import { grpcFrame } from "./wire.ts";

type Pairs = Array<[string, string]>;

/** One HTTP exchange: the request and the upstream's response. */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** False only for the attack: any block or error elsewhere is flagged. */
  readonly benign: boolean;
  readonly request: { readonly headers: Pairs; readonly body?: Uint8Array };
  readonly response: { readonly headers: Pairs; readonly body?: Uint8Array };
}

/** A body as Envoy sends it in each mode. */
export interface BodyFrames {
  /** STREAMED: one message per chunk, the last with end_of_stream. */
  readonly streamed: readonly Buffer[];
  /** BUFFERED and BUFFERED_PARTIAL: the whole body in one message. */
  readonly whole: Buffer;
}

/** A scenario's messages, pre-encoded as gRPC frames. */
export interface Plan {
  readonly name: string;
  readonly benign: boolean;
  readonly requestHeaders: Buffer;
  readonly requestBody: BodyFrames | undefined;
  readonly responseHeaders: Buffer;
  readonly responseBody: BodyFrames | undefined;
}

const encoder = new TextEncoder();
const CHROME =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

/** What Envoy forwards for a browser request, after the pseudo-headers. */
function browserHeaders(accept: string, userAgent = CHROME): Pairs {
  return [
    ["user-agent", userAgent],
    ["accept", accept],
    ["accept-language", "en-US,en;q=0.9,fr;q=0.8"],
    ["accept-encoding", "gzip, deflate, br, zstd"],
    ["referer", "https://shop.example.com/catalog"],
    ["cookie", "session=6f1c2a9e4b7d40c8a1e3; theme=dark; _ga=GA1.2.1234567890.1717000000"],
    ["sec-ch-ua", '"Chromium";v="126", "Google Chrome";v="126", "Not-A.Brand";v="8"'],
    ["sec-ch-ua-mobile", "?0"],
    ["sec-ch-ua-platform", '"Windows"'],
    ["sec-fetch-site", "same-origin"],
    ["sec-fetch-mode", "cors"],
    ["x-forwarded-for", "203.0.113.7"],
    ["x-forwarded-proto", "https"],
    ["x-request-id", "8d3c2f6e-1f0a-4f7b-9a8e-2b1c3d4e5f60"],
  ];
}

function request(method: string, path: string, headers: Pairs): Pairs {
  return [
    [":method", method],
    [":scheme", "https"],
    [":authority", "shop.example.com"],
    [":path", path],
    ...headers,
  ];
}

function response(contentType: string, body: Uint8Array): Pairs {
  return [
    [":status", "200"],
    ["content-type", contentType],
    ["content-length", String(body.length)],
    ["date", "Tue, 02 Dec 2025 10:00:00 GMT"],
    ["cache-control", "no-store"],
    ["x-envoy-upstream-service-time", "3"],
  ];
}

/** A JSON order of exactly `size` bytes. */
export function jsonOfSize(size: number): Uint8Array {
  const head = '{"customer":"c-1042","items":[';
  const items: string[] = [];
  let length = head.length;
  for (let i = 0; length < size - 120; i++) {
    const item = `{"sku":"SKU-${1000 + i}","name":"Trail shoe ${i}","qty":${1 + (i % 3)},"price":${59 + (i % 40)}.90}`;
    items.push(item);
    length += item.length + 1;
  }
  const shell = `${head}${items.join(",")}],"note":""}`;
  const note = "x".repeat(Math.max(0, size - shell.length));
  return encoder.encode(`${head}${items.join(",")}],"note":"${note}"}`);
}

const html = encoder.encode(
  `<!doctype html><html><body>${"<p>catalog</p>".repeat(60)}</body></html>`,
);
const profile = encoder.encode(
  JSON.stringify({
    id: 1042,
    name: "Alice Martin",
    email: "alice@example.com",
    roles: ["customer"],
    addresses: [{ street: "12 Rue de la Paix", city: "Paris", zip: "75002", country: "FR" }],
    preferences: { newsletter: true, currency: "EUR", language: "fr-FR" },
    orders: Array.from({ length: 5 }, (_, i) => ({ id: `o-${7700 + i}`, total: 120.5 + i })),
  }),
);
const form = encoder.encode(
  "username=alice%40example.com&password=correct+horse+battery+staple&remember=on&csrf_token=4f9d2c71e0b84a6b",
);

function post(path: string, contentType: string, body: Uint8Array): Scenario["request"] {
  const headers = browserHeaders("application/json, text/plain, */*");
  headers.push(["content-type", contentType], ["content-length", String(body.length)]);
  headers.push(["origin", "https://shop.example.com"]);
  return { headers: request("POST", path, headers), body };
}

function jsonPost(size: number): Scenario["request"] {
  return post("/api/orders", "application/json", jsonOfSize(size));
}

const okJson = encoder.encode('{"ok":true}');

/** Every scenario, by name, in the order the report prints them. */
export const SCENARIOS: readonly Scenario[] = [
  {
    name: "benign",
    description: "GET with a query string and browser headers (2 messages)",
    benign: true,
    request: {
      headers: request(
        "GET",
        "/api/products?category=shoes&color=blue&size=42&page=2&sort=price_asc",
        browserHeaders("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
      ),
    },
    response: { headers: response("text/html; charset=utf-8", html), body: html },
  },
  {
    name: "attack",
    description: "GET from a scanner user agent with XSS and SQLi in the query (blocked)",
    benign: false,
    request: {
      headers: request(
        "GET",
        "/search?q=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E&id=1%27%20OR%20%271%27%3D%271%27--",
        browserHeaders("*/*", "dd-test-scanner-log-block"),
      ),
    },
    response: { headers: response("text/html; charset=utf-8", html), body: html },
  },
  {
    name: "json1k",
    description: "POST with a 1 KiB JSON body",
    benign: true,
    request: jsonPost(1024),
    response: { headers: response("application/json", okJson), body: okJson },
  },
  {
    name: "json64k",
    description: "POST with a 64 KiB JSON body",
    benign: true,
    request: jsonPost(64 * 1024),
    response: { headers: response("application/json", okJson), body: okJson },
  },
  {
    name: "form",
    description: "POST of an urlencoded login form",
    benign: true,
    request: post("/login", "application/x-www-form-urlencoded", form),
    response: { headers: response("text/html; charset=utf-8", html), body: html },
  },
  {
    name: "respjson",
    description: "GET answered with a JSON body",
    benign: true,
    request: {
      headers: request("GET", "/api/profile", browserHeaders("application/json, text/plain, */*")),
    },
    response: { headers: response("application/json", profile), body: profile },
  },
];

/** The scenario named `name`, or undefined. */
export function scenarioNamed(name: string): Scenario | undefined {
  return SCENARIOS.find((scenario) => scenario.name === name);
}

function headersMessage(
  kind: "requestHeaders" | "responseHeaders",
  pairs: Pairs,
  endOfStream: boolean,
): ProcessingRequest {
  const headers = create(HeaderMapSchema, {
    headers: pairs.map(([key, value]) =>
      create(HeaderValueSchema, { key, rawValue: encoder.encode(value) }),
    ),
  });
  const value = create(HttpHeadersSchema, { headers, endOfStream });
  return create(ProcessingRequestSchema, { request: { case: kind, value } });
}

function bodyMessage(
  kind: "requestBody" | "responseBody",
  body: Uint8Array,
  endOfStream: boolean,
): ProcessingRequest {
  const value = create(HttpBodySchema, { body, endOfStream });
  return create(ProcessingRequestSchema, { request: { case: kind, value } });
}

function bodyFrames(
  kind: "requestBody" | "responseBody",
  body: Uint8Array | undefined,
  chunkSize: number,
): BodyFrames | undefined {
  if (body === undefined) return undefined;
  const streamed: Buffer[] = [];
  for (let at = 0; at < body.length || at === 0; at += chunkSize) {
    const end = Math.min(body.length, at + chunkSize);
    streamed.push(grpcFrame(bodyMessage(kind, body.subarray(at, end), end === body.length)));
    if (end === body.length) break;
  }
  return { streamed, whole: grpcFrame(bodyMessage(kind, body, true)) };
}

/** Encodes `scenario`; STREAMED bodies go in chunks of `chunkSize` bytes. */
export function planOf(scenario: Scenario, chunkSize: number): Plan {
  const { request: req, response: res } = scenario;
  return {
    name: scenario.name,
    benign: scenario.benign,
    requestHeaders: grpcFrame(
      headersMessage("requestHeaders", req.headers, req.body === undefined),
    ),
    requestBody: bodyFrames("requestBody", req.body, chunkSize),
    responseHeaders: grpcFrame(
      headersMessage("responseHeaders", res.headers, res.body === undefined),
    ),
    responseBody: bodyFrames("responseBody", res.body, chunkSize),
  };
}
