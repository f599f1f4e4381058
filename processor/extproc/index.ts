/**
 * The Envoy adapter: the ext_proc stream loop, its protocol checks, and the conversions between
 * Envoy's messages and the inspector's neutral shapes. The only code that sees Envoy's types
 * besides the gRPC transport.
 */
export type { StreamPort } from "./process-stream.ts";
export { openStream } from "./process-stream.ts";
