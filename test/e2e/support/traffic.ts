/** The fixed traffic mix of the end-to-end tests. */
import type { HttpRequest } from "../../support/envoy/index.ts";

const HOST = "shop.example.com";
const UA = "Mozilla/5.0 (X11; Linux x86_64) e2e";

function get(path: string, headers: Record<string, string> = {}): HttpRequest {
  return {
    method: "GET",
    path,
    headers: { host: HOST, "user-agent": UA, accept: "application/json", ...headers },
  };
}

function withBody(contentType: string, body: string, path = "/api/submit"): HttpRequest {
  return {
    method: "POST",
    path,
    headers: {
      host: HOST,
      "user-agent": UA,
      accept: "application/json",
      "content-type": contentType,
      "content-length": String(Buffer.byteLength(body)),
    },
    body,
  };
}

/** A JSON POST. */
export const json = (value: unknown): HttpRequest =>
  withBody("application/json", JSON.stringify(value));

/** A urlencoded form POST. */
export const form = (body: string): HttpRequest =>
  withBody("application/x-www-form-urlencoded", body);

/** A multipart/form-data POST. */
export function multipart(
  parts: Array<{ name: string; value: string; filename?: string }>,
): HttpRequest {
  const boundary = "----aape2eBoundary7MA4YWxkTrZu0gW";
  const encoded = parts.map((part) => {
    const file = part.filename
      ? `; filename="${part.filename}"\r\nContent-Type: application/octet-stream`
      : "";
    return `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"${file}\r\n\r\n${part.value}\r\n`;
  });
  const body = `${encoded.join("")}--${boundary}--\r\n`;
  return withBody(`multipart/form-data; boundary=${boundary}`, body);
}

/** Benign requests: none may be blocked or altered. */
export const benign: HttpRequest[] = [
  get("/"),
  get("/products?category=shoes&page=2&sort=price"),
  json({ name: "Ada Lovelace", email: "ada@example.com", quantity: 2 }),
  form("name=Grace+Hopper&comment=Great+shop%21"),
  multipart([
    { name: "title", value: "holiday" },
    { name: "photo", filename: "beach.jpg", value: "JPEGDATA" },
  ]),
];

/** Attacks; the comment names the rule that catches each. */
export const attacks = {
  /** Recommended crs-941-* (monitor). */
  xssQuery: get("/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
  /** Recommended crs-942-* (monitor). */
  sqliQuery: get("/item?id=1%27%20OR%201%3D1--"),
  /** test-rules query-002 (block_418). */
  blockingQuery: get("/search?q=match-request-query"),
  /** test-rules crs-933-130-block (PHP superglobal). */
  phpQuery: get("/search?q=%24globals"),
  /** test-rules tst-ua-arachni. */
  arachniHeader: get("/", { "user-agent": "Arachni/v1.5.1" }),
  /** test-rules tst-uri-001. */
  blockedPath: get("/tst-blocked-path"),
  /** test-rules tst-block-json-001 (429, JSON). */
  blockJson429: get("/search?q=match-block-json"),
  /** test-rules tst-block-html-001 (401, HTML whatever the Accept). */
  blockHtml401: get("/search?q=match-block-html"),
  /** test-rules tst-redirect-001 (302). */
  redirect: get("/search?q=match-redirect-query"),
};

/**
 * A JSON body just over `limit` bytes with the test-rules trigger at its start (seen) or at its
 * end (past the limit, never analysed). Arrives in 1 MiB chunks.
 */
export function largeBody(limit: number, where: "start" | "end"): HttpRequest {
  const pad = "x".repeat(limit + 1024);
  const value =
    where === "start"
      ? { payload: "match-request-body", pad }
      : { pad, payload: "match-request-body" };
  return { ...json(value), chunkSize: 1024 * 1024 };
}
