/**
 * One JSON POST to the Agent, over TCP (`http://`, `https://`) or a Unix socket (`unix:///path`),
 * which `fetch` cannot reach.
 */
import { request as httpRequest, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";

/** An HTTP response: status and body text. */
export interface HttpResponse {
  readonly status: number;
  readonly body: string;
}

/** Posts `body` (JSON) to `url`; rejects on network errors and after `timeoutMs`. */
export type HttpPost = (url: string, body: string, timeoutMs: number) => Promise<HttpResponse>;

/** The default {@link HttpPost}. Response bodies are capped (64 MiB) so a broken peer cannot exhaust memory. */
export const postJson: HttpPost = (url, body, timeoutMs) =>
  new Promise((resolve, reject) => {
    const target = new URL(url);
    const options: RequestOptions = {
      method: "POST",
      headers: {
        "content-type": "application/json; charset=utf-8",
        "content-length": Buffer.byteLength(body),
      },
      timeout: timeoutMs,
    };
    let send = httpRequest;
    if (target.protocol === "unix:") {
      options.socketPath = target.pathname.replace(/\/v0\.7\/config$/, "");
      options.path = "/v0.7/config";
    } else {
      options.hostname = target.hostname.replace(/^\[|\]$/g, "");
      options.port = target.port;
      options.path = `${target.pathname}${target.search}`;
      if (target.protocol === "https:") send = httpsRequest;
    }
    const req = send(options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          req.destroy(new Error("response too large"));
          return;
        }
        chunks.push(chunk);
      });
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });

const MAX_BODY_BYTES = 64 * 1024 * 1024;
