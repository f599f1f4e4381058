/** Pairs a fake processor with an Envoy-behaving client for one test. */
import { after } from "node:test";
import type { ForwardedRequest } from "../support/envoy/index.ts";
import {
  createEnvoyFilter,
  type EnvoyOptions,
  type ExchangeResult,
  type HttpRequest,
  type UpstreamResponse,
} from "../support/envoy/index.ts";
import {
  type ConfigFields,
  type FakeProcessor,
  filterConfig,
  type Script,
  startFakeProcessor,
} from "./fake-processor.ts";

/** A started fake processor and a filter pointed at it. */
export interface Harness {
  fake: FakeProcessor;
  /** Runs one exchange; the default upstream echoes 200 `ok`. */
  send(
    request: HttpRequest,
    upstream?: (request: ForwardedRequest) => UpstreamResponse,
  ): Promise<ExchangeResult>;
  /** Requests the upstream received. */
  upstreamCalls: ForwardedRequest[];
}

/** Starts a harness; everything is stopped after the test file. */
export async function harness(
  script: Script,
  config: ConfigFields = {},
  options: EnvoyOptions = {},
): Promise<Harness> {
  const fake = await startFakeProcessor(script);
  const filter = createEnvoyFilter(filterConfig(config), { target: fake.target, ...options });
  after(async () => {
    filter.close();
    await fake.stop();
  });
  const upstreamCalls: ForwardedRequest[] = [];
  return {
    fake,
    upstreamCalls,
    send: (
      request,
      upstream = () => ({ status: 200, headers: { "content-type": "text/plain" }, body: "ok" }),
    ) =>
      filter.exchange({
        request,
        upstream: async (forwarded) => {
          upstreamCalls.push(forwarded);
          return upstream(forwarded);
        },
      }),
  };
}

/** A GET with no body. */
export const GET: HttpRequest = {
  method: "GET",
  path: "/",
  headers: { host: "app.example.com", "user-agent": "curl/8" },
};

/** A POST with `body`. */
export function post(body: string, extra: Partial<HttpRequest> = {}): HttpRequest {
  return {
    method: "POST",
    path: "/submit",
    headers: {
      host: "app.example.com",
      "content-type": "text/plain",
      "content-length": String(Buffer.byteLength(body)),
    },
    body,
    ...extra,
  };
}
