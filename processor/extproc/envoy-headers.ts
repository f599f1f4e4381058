/** Converts Envoy's header maps into the neutral header entries of `http/`. */
import type { HeaderMap } from "../gen/envoy/config/core/v3/base_pb.ts";
import type { HeaderEntry } from "../http/index.ts";

// Non-fatal: invalid UTF-8 becomes U+FFFD instead of failing the request (values are bytes on the
// wire, CVE-2023-27488); the WAF still sees every valid character around it.
const decoder = new TextDecoder("utf-8", { fatal: false });

/** Reads `raw_value` (what Envoy sends) and falls back to `value` when it is empty. */
export function headerEntries(map: HeaderMap | undefined): HeaderEntry[] {
  if (!map) return [];
  return map.headers.map((header) => ({
    key: header.key,
    value: header.rawValue.length > 0 ? decoder.decode(header.rawValue) : header.value,
  }));
}
