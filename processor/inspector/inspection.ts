/**
 * The WAF inspection of one exchange: builds the request and response models, runs the WAF at
 * each phase, decides which bodies to ask for, and finishes the span. All per-exchange state is
 * private to {@link WafInspection}; the adapter sees only verdicts.
 */
import { ProtocolError } from "../errors.ts";
import {
  type HttpRequest,
  type HttpResponse,
  requestFromHeaders,
  responseFromHeaders,
} from "../http/index.ts";
import type { ExchangeSpan } from "../tracing/index.ts";
import { ADDRESSES, compactValues, EXTRACT_SCHEMA } from "../waf/index.ts";
import { bodyAddresses, type Direction } from "./body-addresses.ts";
import { BodyCollector, isInspectable } from "./body-collector.ts";
import { ExchangeWaf } from "./exchange-waf.ts";
import type { InspectorDeps, InspectorOptions } from "./options.ts";
import type {
  BodyChunk,
  ExchangeInfo,
  HeadersMessage,
  Inspection,
  InspectionResult,
  Outcome,
} from "./types.ts";
import { CONTINUE, type Verdict } from "./verdict.ts";

/** Inspects one exchange with the WAF. */
export class WafInspection implements Inspection {
  readonly #info: ExchangeInfo;
  readonly #options: InspectorOptions;
  readonly #deps: InspectorDeps;
  readonly #waf: ExchangeWaf;
  /** Never block: the processor's setting or the proxy's flag on this exchange. */
  readonly #observing: boolean;
  #request: HttpRequest | undefined;
  #response: HttpResponse | undefined;
  #span: ExchangeSpan | undefined;
  #requestBody: BodyCollector | undefined;
  #responseBody: BodyCollector | undefined;
  /** API Security: extract schemas in the run that analyses the response body. */
  #schemaWithResponseBody = false;
  /** Why a body was not analysed (unsupported encoding, memory budget, ...), for the logs. */
  readonly #bodyNotes: string[] = [];
  #ended = false;

  constructor(info: ExchangeInfo, options: InspectorOptions, deps: InspectorDeps) {
    this.#info = info;
    this.#options = options;
    this.#deps = deps;
    this.#observing = options.observabilityMode || info.observabilityMode;
    this.#waf = new ExchangeWaf(deps.engine.createContext(), {
      budgetUs: options.wafBudgetUs,
      observing: this.#observing,
      templates: deps.templates,
      metrics: deps.metrics,
    });
  }

  /** Builds the request model, starts the span, runs the WAF, decides whether to ask for the body. */
  requestHeaders(message: HeadersMessage): Verdict | ProtocolError {
    const { clientIpHeader, bodyLimitBytes } = this.#options;
    const parsed = requestFromHeaders(message.headers, {
      ...(clientIpHeader ? { clientIpHeader } : {}),
      ...(this.#info.remoteAddress ? { remoteAddress: this.#info.remoteAddress } : {}),
    });
    if (!parsed.ok) return new ProtocolError("invalid-request-headers", parsed.error.message);
    const request = parsed.value;
    this.#request = request;
    const span = this.#deps.tracer.startSpan({ integration: this.#info.integration, request });
    this.#span = span;
    const blocked = this.#run({
      [ADDRESSES.REQUEST_METHOD]: request.method,
      [ADDRESSES.REQUEST_URI_RAW]: request.rawUri,
      [ADDRESSES.REQUEST_HEADERS_NO_COOKIES]: compactValues(request.headers),
      [ADDRESSES.REQUEST_COOKIES]: compactValues(request.cookies),
      [ADDRESSES.REQUEST_QUERY]: compactValues(request.query),
      [ADDRESSES.CLIENT_IP]: request.clientIp,
    });
    if (blocked) return blocked;
    // Never ask for the body of an upgrade or CONNECT: it never ends, and Envoy would hang the
    // request waiting for it (envoyproxy/envoy #47048, #47081).
    const wantBody =
      !message.endOfStream && !request.isUpgrade && isInspectable(request, bodyLimitBytes);
    if (wantBody) this.#requestBody = this.#collector(request, "streamed");
    // After the WAF run: in standalone mode the context is injected only when the trace is kept.
    const setHeaders = span.propagationHeaders();
    return {
      kind: "continue",
      ...(wantBody ? { bodyMode: "streamed" as const } : {}),
      ...(setHeaders.length > 0 ? { setHeaders } : {}),
    };
  }

  requestBody(chunk: BodyChunk): Verdict | Promise<Verdict> {
    return this.#body("request", chunk);
  }

  /** Trailers end a body that had no end-of-stream chunk: analyse it now (the trailer bypass). */
  requestTrailers(): Promise<Verdict> {
    return this.#analyse("request");
  }

  /**
   * Synchronous unless part of the request body still waits for analysis: the upstream may answer
   * before the request body ended (envoyproxy/envoy #17069), and a payload must not hide behind a
   * fast upstream response.
   */
  responseHeaders(message: HeadersMessage): InspectionResult {
    if (this.#requestBody?.pending === true) {
      return this.#analyse("request").then((early) =>
        early.kind === "immediate" ? early : this.#responseHeaders(message),
      );
    }
    return this.#responseHeaders(message);
  }

  responseBody(chunk: BodyChunk): Verdict | Promise<Verdict> {
    return this.#body("response", chunk);
  }

  responseTrailers(): Promise<Verdict> {
    return this.#analyse("response");
  }

  end(outcome: Outcome): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#waf.context.dispose();
    this.#requestBody?.release();
    this.#responseBody?.release();
    this.#logEnd(outcome);
    this.#finishSpan(outcome);
  }

  #responseHeaders(message: HeadersMessage): Verdict | ProtocolError {
    const parsed = responseFromHeaders(message.headers);
    if (!parsed.ok) return new ProtocolError("invalid-response-headers", parsed.error.message);
    const response = parsed.value;
    this.#response = response;
    const { "set-cookie": _cookies, ...headers } = response.headers;
    const context = this.#waf.context;
    // API Security: schemas are extracted in the exchange's last run, so that they cover the
    // response body when there is one.
    const sampleSchema =
      this.#options.apiSecurityEnabled && this.#span?.shouldSampleSchema(response.status) === true;
    // The response body and headers are asked for and fed only when a rule reads them or a schema
    // is extracted: with the recommended rules only API Security's processors read them, and every
    // other response would cost Envoy a body round trip and us a parse and a WAF run for nothing.
    const wantBody =
      !message.endOfStream &&
      isInspectable(response, this.#options.bodyLimitBytes) &&
      (sampleSchema || context.isReadByRules(ADDRESSES.RESPONSE_BODY));
    const feedHeaders =
      sampleSchema || context.isReadByRules(ADDRESSES.RESPONSE_HEADERS_NO_COOKIES);
    const blocked = this.#run({
      [ADDRESSES.RESPONSE_STATUS]: String(response.status),
      ...(feedHeaders ? { [ADDRESSES.RESPONSE_HEADERS_NO_COOKIES]: compactValues(headers) } : {}),
      ...(sampleSchema && !wantBody ? { [ADDRESSES.WAF_CONTEXT_PROCESSOR]: EXTRACT_SCHEMA } : {}),
    });
    if (blocked) return blocked;
    // Nothing left to inspect: close cleanly after this reply and the proxy goes on without us.
    if (!wantBody) return { kind: "continue", close: true };
    this.#schemaWithResponseBody = sampleSchema;
    // In observability mode Envoy ignores overrides and streams whatever its static mode says.
    const bodyMode = this.#observing ? "streamed" : this.#options.responseBodyMode;
    this.#responseBody = this.#collector(response, bodyMode);
    return { kind: "continue", bodyMode };
  }

  /** One body chunk: acknowledged at once, analysed at the end, at the limit or the budget. */
  #body(direction: Direction, chunk: BodyChunk): Verdict | Promise<Verdict> {
    const collector = this.#collectorOf(direction);
    if (!collector || collector.handedOver) return CONTINUE;
    if (collector.add(chunk.bytes, chunk.endOfStream) === "wait") return CONTINUE;
    const verdict = this.#analyse(direction);
    // After a BUFFERED_PARTIAL body nothing more comes to inspect: end after the reply.
    return collector.singleMessage ? verdict.then(closeAfterContinue) : verdict;
  }

  /**
   * Analyses a direction's body if one was collected and not analysed yet: at its end, at the
   * trailers, at the limit, or when the response headers arrive before the request body ended.
   */
  async #analyse(direction: Direction): Promise<Verdict> {
    const body = (direction === "request" ? this.#requestBody : this.#responseBody)?.takeOver();
    if (!body) return CONTINUE;
    if (body.budgetSpent) this.#bodyNotes.push(`${direction}:memory-budget`);
    if (body.bytes.length === 0) return CONTINUE;
    const schema = direction === "response" && this.#schemaWithResponseBody;
    const read = await bodyAddresses(direction, body, this.#options.bodyLimitBytes, schema);
    if (!read.ok) {
      this.#bodyNotes.push(read.error);
      return CONTINUE;
    }
    this.#deps.metrics?.bodyInspected(direction, body.truncated);
    return this.#run(read.value) ?? CONTINUE;
  }

  #run(addresses: Record<string, unknown>) {
    return this.#waf.run(addresses, this.#span, this.#request?.headers.accept?.join(","));
  }

  #collector(meta: HttpRequest | HttpResponse, mode: "streamed" | "buffered-partial") {
    return new BodyCollector(meta, this.#options.bodyLimitBytes, mode, this.#deps.bodyBudget);
  }

  /**
   * The collector of a direction, created on the first chunk when the proxy sends a body we did
   * not ask for (a static body mode in its config), if the content type is inspectable. Such a
   * body is taken as streamed: chunks are kept until the end of stream.
   */
  #collectorOf(direction: Direction): BodyCollector | undefined {
    const limit = this.#options.bodyLimitBytes;
    if (direction === "request") {
      if (!this.#requestBody && this.#request && isInspectable(this.#request, limit)) {
        this.#requestBody = this.#collector(this.#request, "streamed");
      }
      return this.#requestBody;
    }
    if (!this.#responseBody && this.#response && isInspectable(this.#response, limit)) {
      this.#responseBody = this.#collector(this.#response, "streamed");
    }
    return this.#responseBody;
  }

  /** One debug line per exchange: verdict and rule ids only (never header values or bodies). */
  #logEnd(outcome: Outcome): void {
    const log = this.#deps.log;
    if (!log.enabled("debug")) return;
    const waf = this.#waf;
    log.debug("stream end", {
      outcome,
      rules: [...waf.ruleIds],
      blocked: waf.blockedBy !== undefined,
      status: waf.blockedBy?.status ?? this.#response?.status,
      wouldHaveBlocked: waf.wouldHaveBlocked !== undefined,
      observing: this.#observing,
      wafTimeouts: waf.context.timeouts,
      wafDurationUs: waf.context.durationUs,
      ...(this.#bodyNotes.length > 0 ? { bodyNotes: this.#bodyNotes } : {}),
    });
  }

  /** Finishes the span (exchanges whose request headers were invalid have none). */
  #finishSpan(outcome: Outcome): void {
    const { blockedBy, wouldHaveBlocked, context } = this.#waf;
    this.#span?.finish({
      outcome,
      ...(this.#response ? { response: this.#response } : {}),
      ...(blockedBy ? { blockedBy } : {}),
      ...(wouldHaveBlocked ? { wouldHaveBlocked } : {}),
      observabilityMode: this.#observing,
      wafVersion: this.#deps.engine.wafVersion,
      rulesVersion: context.rulesVersion,
      wafTimeouts: context.timeouts,
      wafDurationUs: context.durationUs,
    });
  }
}

function closeAfterContinue(verdict: Verdict): Verdict {
  return verdict.kind === "continue" ? { ...verdict, close: true } : verdict;
}
