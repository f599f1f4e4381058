/**
 * Decodes the EnvoyFilter's patch values with Envoy's own protos (the generated protobuf-es code
 * in processor/gen), the way istiod does before it sends them to Envoy. protobuf-es's `fromJson`
 * is strict: a misspelled field, a bad enum or a Go-style duration ("200ms") is an error.
 */
import { createRegistry, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { type Any, AnySchema, anyUnpack } from "@bufbuild/protobuf/wkt";
import {
  type Cluster,
  ClusterSchema,
  file_envoy_config_cluster_v3_cluster,
} from "../../../processor/gen/envoy/config/cluster/v3/cluster_pb.ts";
import {
  type ExternalProcessor,
  ExternalProcessorSchema,
  file_envoy_extensions_filters_http_ext_proc_v3_ext_proc,
} from "../../../processor/gen/envoy/extensions/filters/http/ext_proc/v3/ext_proc_pb.ts";
import {
  file_envoy_extensions_transport_sockets_tls_v3_tls,
  type UpstreamTlsContext,
  UpstreamTlsContextSchema,
} from "../../../processor/gen/envoy/extensions/transport_sockets/tls/v3/tls_pb.ts";
import type { RenderedObject } from "./helm.ts";

/** Resolves the `@type` of the Any fields the chart renders. */
export const ENVOY_REGISTRY = createRegistry(
  file_envoy_extensions_filters_http_ext_proc_v3_ext_proc,
  file_envoy_extensions_transport_sockets_tls_v3_tls,
  file_envoy_config_cluster_v3_cluster,
);

/** Type URL of the ext_proc filter configuration. */
export const EXT_PROC_TYPE_URL = `type.googleapis.com/${ExternalProcessorSchema.typeName}`;
/** Type URL of the upstream TLS transport socket configuration. */
export const UPSTREAM_TLS_TYPE_URL = `type.googleapis.com/${UpstreamTlsContextSchema.typeName}`;

/** The decoded content of the chart's two patches. */
export interface DecodedEnvoyFilter {
  readonly filterName: string;
  readonly extProc: ExternalProcessor;
  readonly cluster: Cluster;
  readonly upstreamTls: UpstreamTlsContext | undefined;
}

interface ConfigPatch {
  applyTo: string;
  patch: { value: Record<string, JsonValue> };
}

function patchValue(envoyFilter: RenderedObject, applyTo: string): Record<string, JsonValue> {
  const spec = envoyFilter.spec as { configPatches: ConfigPatch[] };
  const patches = spec.configPatches.filter((patch) => patch.applyTo === applyTo);
  if (patches.length !== 1) throw new Error(`expected one ${applyTo} patch, got ${patches.length}`);
  return (patches[0] as ConfigPatch).patch.value;
}

/** Decodes an Any in proto JSON (`{"@type": ..., ...fields}`) and checks its type. */
export function decodeAny<T>(json: JsonValue, typeUrl: string): T {
  const any: Any = fromJson(AnySchema, json, { registry: ENVOY_REGISTRY });
  if (any.typeUrl !== typeUrl) throw new Error(`expected @type ${typeUrl}, got ${any.typeUrl}`);
  const message = anyUnpack(any, ENVOY_REGISTRY);
  if (message === undefined) throw new Error(`cannot unpack ${any.typeUrl}`);
  return message as T;
}

/**
 * Decodes the HTTP_FILTER patch (an HttpConnectionManager `HttpFilter`: `name` + `typed_config`)
 * and the CLUSTER patch of a rendered EnvoyFilter. Throws on the first field Envoy would refuse.
 */
export function decodeEnvoyFilter(envoyFilter: RenderedObject): DecodedEnvoyFilter {
  const filter = patchValue(envoyFilter, "HTTP_FILTER");
  // HttpFilter itself is not among the generated protos: check its two fields by hand.
  const extra = Object.keys(filter).filter((key) => key !== "name" && key !== "typed_config");
  if (extra.length > 0) throw new Error(`unknown HttpFilter field(s): ${extra.join(", ")}`);
  if (typeof filter.name !== "string" || filter.name === "") {
    throw new Error("HttpFilter.name must be a non-empty string");
  }
  const extProc = decodeAny<ExternalProcessor>(filter.typed_config ?? null, EXT_PROC_TYPE_URL);
  const cluster = fromJson(ClusterSchema, patchValue(envoyFilter, "CLUSTER"), {
    registry: ENVOY_REGISTRY,
  });
  const socket = cluster.transportSocket;
  let upstreamTls: UpstreamTlsContext | undefined;
  if (socket !== undefined) {
    if (socket.configType.case !== "typedConfig")
      throw new Error("transport_socket lacks typed_config");
    const any = socket.configType.value;
    if (any.typeUrl !== UPSTREAM_TLS_TYPE_URL) throw new Error(`unexpected ${any.typeUrl}`);
    upstreamTls = anyUnpack(any, UpstreamTlsContextSchema);
  }
  return { filterName: filter.name, extProc, cluster, upstreamTls };
}
