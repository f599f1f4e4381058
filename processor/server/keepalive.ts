/**
 * HTTP/2 keepalive for Envoy's long-lived connections: every `intervalMs` the server pings each
 * connection; one whose ping is not answered within `timeoutMs` is closed, which releases its
 * streams (and their WAF contexts and spans). Without it, a connection whose Envoy vanished (node
 * lost, network partition) would hold its streams until the kernel's TCP timeout, hours later.
 * grpc-js sends the pings (`grpc.keepalive_time_ms`, `grpc.keepalive_timeout_ms`).
 */

/** Keepalive timing. */
export interface KeepaliveOptions {
  /** Time between pings on an open connection. */
  readonly intervalMs: number;
  /** Time a ping may wait for its acknowledgement before the connection is closed. */
  readonly timeoutMs: number;
}

/** Defaults: well above Envoy's own idle handling, well below TCP's hours. */
export const DEFAULT_KEEPALIVE: KeepaliveOptions = Object.freeze({
  intervalMs: 30_000,
  timeoutMs: 10_000,
});
