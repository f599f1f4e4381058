/**
 * libddwaf address names: the keys of the data passed to {@link WafContext.run}. This file is the
 * only place in the project where these strings are spelled out; everything else
 * refers to `ADDRESSES.X`.
 *
 * The list covers every address of dd-trace's recommended ruleset (dd-trace 6.21.0,
 * `appsec/recommended.json`, rules_version 1.18.0) that an HTTP proxy can feed. Addresses that need
 * the application itself (path params from a router, GraphQL resolvers, gRPC messages, user ids,
 * RASP sinks such as `server.db.statement`) are deliberately absent.
 *
 * @see DataDog/dd-trace-js `packages/dd-trace/src/appsec/addresses.js`
 */
export const ADDRESSES = Object.freeze({
  /** Request method, e.g. `GET`. Used by fingerprint processors and method rules. */
  REQUEST_METHOD: "server.request.method",
  /** Raw `:path`, including the query string, undecoded. */
  REQUEST_URI_RAW: "server.request.uri.raw",
  /** Request headers without `cookie`: lower-cased names → list of values. */
  REQUEST_HEADERS_NO_COOKIES: "server.request.headers.no_cookies",
  /** Parsed `cookie` headers: name → list of values. */
  REQUEST_COOKIES: "server.request.cookies",
  /** Parsed query string: name → list of values (raw-URI-only attacks are not detected). */
  REQUEST_QUERY: "server.request.query",
  /** Parsed request body (JSON, form, multipart fields, XML, or text). */
  REQUEST_BODY: "server.request.body",
  /** File names of a multipart request body: a list of strings. */
  REQUEST_BODY_FILENAMES: "server.request.body.filenames",
  /** The resolved client IP, as a string. */
  CLIENT_IP: "http.client_ip",
  /** Response status code, as a decimal string (`"404"`). */
  RESPONSE_STATUS: "server.response.status",
  /** Response headers without `cookie`: lower-cased names → list of values. */
  RESPONSE_HEADERS_NO_COOKIES: "server.response.headers.no_cookies",
  /** Parsed response body. */
  RESPONSE_BODY: "server.response.body",
  /**
   * WAF-context settings for processors. Feed `{ 'extract-schema': true }` when API Security samples
   * the request, so the schema processors emit `_dd.appsec.s.*` attributes.
   */
  WAF_CONTEXT_PROCESSOR: "waf.context.processor",
});

/** The value of {@link ADDRESSES.WAF_CONTEXT_PROCESSOR} that turns on API Security schemas. */
export const EXTRACT_SCHEMA = Object.freeze({ "extract-schema": true });
