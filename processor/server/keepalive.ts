/**
 * HTTP/2 keepalive for Envoy's long-lived connections: every `intervalMs` the server pings each
 * connection; one whose ping is not answered within `timeoutMs` is destroyed, which releases its
 * streams (and their WAF contexts and spans). Without it, a connection whose Envoy vanished (node
 * lost, network partition) would hold its streams until the kernel's TCP timeout, hours later.
 */
import type { Http2Session } from "node:http2";
import type { GrpcServer } from "./create-server.ts";

/** Keepalive timing. */
export interface KeepaliveOptions {
  /** Time between pings on an open connection. */
  readonly intervalMs: number;
  /** Time a ping may wait for its acknowledgement before the connection is destroyed. */
  readonly timeoutMs: number;
}

/** Defaults: well above Envoy's own idle handling, well below TCP's hours. */
export const DEFAULT_KEEPALIVE: KeepaliveOptions = Object.freeze({
  intervalMs: 30_000,
  timeoutMs: 10_000,
});

/** Pings every connection of `server` as it opens, until it closes. */
export function enableKeepalive(
  server: GrpcServer,
  options: KeepaliveOptions = DEFAULT_KEEPALIVE,
): void {
  server.on("session", (session: Http2Session) => watchSession(session, options));
}

function watchSession(session: Http2Session, { intervalMs, timeoutMs }: KeepaliveOptions): void {
  let deadline: NodeJS.Timeout | undefined;
  const timer = setInterval(() => {
    if (session.destroyed || session.closed || deadline) return;
    deadline = setTimeout(() => session.destroy(), timeoutMs);
    deadline.unref();
    const sent = session.ping((error) => {
      clearTimeout(deadline);
      deadline = undefined;
      if (error) session.destroy();
    });
    if (!sent) {
      clearTimeout(deadline);
      deadline = undefined;
    }
  }, intervalMs);
  timer.unref();
  session.once("close", () => {
    clearInterval(timer);
    clearTimeout(deadline);
  });
}
