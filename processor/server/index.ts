export type { Admission } from "./admission.ts";
export { createAdmission } from "./admission.ts";
export type { GrpcServer } from "./create-server.ts";
export { createServer } from "./create-server.ts";
export type { HealthInfo } from "./health.ts";
export { createHealthServer } from "./health.ts";
export type { IdleStreams } from "./idle-streams.ts";
export { createIdleStreams } from "./idle-streams.ts";
export type { KeepaliveOptions } from "./keepalive.ts";
export type { Readiness } from "./readiness.ts";
export { createReadiness } from "./readiness.ts";
export { createServices } from "./services.ts";
export type { TlsMaterial } from "./tls.ts";
export {
  describeCertificate,
  describeClientCa,
  generateSelfSigned,
  loadTlsMaterial,
  watchTlsFiles,
} from "./tls.ts";
