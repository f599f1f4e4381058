/** The gateway's backends: a built-in echo, or an HTTP URL the allowed requests are proxied to. */
import type {
  ForwardedRequest,
  Upstream,
  UpstreamResponse,
} from "../../test/support/envoy/index.ts";

const decoder = new TextDecoder();

/** Answers every request with a JSON description of what reached it. */
export const echoUpstream: Upstream = async (request) => ({
  status: 200,
  headers: { "content-type": "application/json" },
  body: `${JSON.stringify(
    {
      echo: true,
      method: request.method,
      path: request.path,
      authority: request.authority,
      headers: Object.fromEntries(request.headers),
      body: decoder.decode(request.body.subarray(0, 64 * 1024)),
      bodyBytes: request.body.length,
    },
    null,
    2,
  )}\n`,
});

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "proxy-connection",
  "content-length",
]);

/** Proxies allowed requests to `base` (scheme, host and port; the request path is appended). */
export function proxyUpstream(base: string): Upstream {
  const target = new URL(base);
  return async (request: ForwardedRequest): Promise<UpstreamResponse> => {
    const url = new URL(request.path, target);
    const headers = new Headers();
    for (const [name, value] of request.headers)
      if (!HOP_BY_HOP.has(name)) headers.append(name, value);
    const hasBody =
      request.body.length > 0 && request.method !== "GET" && request.method !== "HEAD";
    const response = await fetch(url, {
      method: request.method,
      headers,
      redirect: "manual",
      ...(hasBody ? { body: request.body } : {}),
    });
    const out: Array<[string, string]> = [];
    response.headers.forEach((value, name) => {
      if (!HOP_BY_HOP.has(name) && name !== "content-encoding") out.push([name, value]);
    });
    return {
      status: response.status,
      headers: out,
      body: new Uint8Array(await response.arrayBuffer()),
    };
  };
}
