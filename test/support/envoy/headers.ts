/**
 * HTTP header lists as Envoy's header maps hold them, their ext_proc wire form, and Envoy's way of
 * applying a `HeaderMutation` with the default mutation rules (docs/envoy-filter.md#replies;
 * Envoy's ext_proc `mutation_utils.cc` and `mutation_rules` Checker).
 */
import { create } from "@bufbuild/protobuf";
import {
  HeaderValueOption_HeaderAppendAction as AppendAction,
  type HeaderMap,
  HeaderMapSchema,
  HeaderValueSchema,
} from "../../../processor/gen/envoy/config/core/v3/base_pb.ts";
import type { HeaderMutation } from "../../../processor/gen/envoy/service/ext_proc/v3/external_processor_pb.ts";

/** Ordered header pairs, names lower-case, repeated names allowed, pseudo-headers first. */
export type HeaderList = Array<[string, string]>;

/** Headers as a caller gives them. */
export type HeadersInit = HeaderList | Readonly<Record<string, string>>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Normalises headers to a lower-case list. */
export function headerList(headers: HeadersInit | undefined): HeaderList {
  if (headers === undefined) return [];
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  return pairs.map(([name, value]) => [name.toLowerCase(), value]);
}

/** First value of `name`, or undefined. */
export function headerValue(headers: HeaderList, name: string): string | undefined {
  return headers.find(([key]) => key === name)?.[1];
}

/** Every value of `name`. */
export function headerValues(headers: HeaderList, name: string): string[] {
  return headers.filter(([key]) => key === name).map(([, value]) => value);
}

/** Removes every `name`, in place. */
export function removeHeader(headers: HeaderList, name: string): void {
  for (let i = headers.length - 1; i >= 0; i--) if (headers[i]?.[0] === name) headers.splice(i, 1);
}

/** Replaces every `name` with one value (kept at the first one's position), in place. */
export function setHeader(headers: HeaderList, name: string, value: string): void {
  const at = headers.findIndex(([key]) => key === name);
  removeHeader(headers, name);
  headers.splice(at === -1 ? headers.length : at, 0, [name, value]);
}

/** The wire form Envoy sends: every value in `raw_value` only (CVE-2023-27488). */
export function toHeaderMap(headers: HeaderList): HeaderMap {
  return create(HeaderMapSchema, {
    headers: headers.map(([key, value]) =>
      create(HeaderValueSchema, { key, rawValue: encoder.encode(value) }),
    ),
  });
}

/** Why Envoy refused a mutation (it then answers with a local 500). */
export type MutationError = { error: string };

const ROUTING = new Set([":method", ":authority", ":scheme", "host"]);

/** Envoy's default Checker: what `set` or `remove` of `name` does (OK, or silently ignored). */
function allowed(op: "set" | "remove", name: string, value: string): boolean {
  if (name.startsWith("x-envoy-")) return false;
  if (op === "remove") return !name.startsWith(":") && name !== "host";
  if (ROUTING.has(name)) return false;
  if (name === ":status") {
    const code = Number(value);
    return Number.isInteger(code) && code >= 200 && code <= 599;
  }
  return !name.startsWith(":") || name === ":path";
}

const VALID_NAME = /^:?[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/**
 * Applies `mutation` to `headers` in place, as Envoy does: removals first, then each set. A value
 * must be in exactly one of `value` / `raw_value` (both set is an error, envoyproxy/envoy #31555);
 * Envoy reads `raw_value`. An unset `append_action` (APPEND_IF_EXISTS_OR_ADD = 0) falls back to the
 * deprecated `append`, whose default here is false: overwrite.
 */
export function applyHeaderMutation(
  headers: HeaderList,
  mutation: HeaderMutation | undefined,
): MutationError | undefined {
  if (mutation === undefined) return undefined;
  for (const raw of mutation.removeHeaders) {
    const name = raw.toLowerCase();
    if (!VALID_NAME.test(name)) return { error: `invalid header name to remove: ${raw}` };
    if (allowed("remove", name, "")) removeHeader(headers, name);
  }
  for (const option of mutation.setHeaders) {
    const header = option.header;
    if (header === undefined) continue;
    if (header.value !== "" && header.rawValue.length > 0) {
      return { error: `both value and raw_value set for ${header.key}` };
    }
    const name = header.key.toLowerCase();
    const value = decoder.decode(header.rawValue);
    if (!VALID_NAME.test(name) || /[\r\n\0]/.test(value)) {
      return { error: `invalid header in set_headers: ${header.key}` };
    }
    if (!allowed("set", name, value)) continue;
    const exists = headers.some(([key]) => key === name);
    switch (option.appendAction) {
      case AppendAction.ADD_IF_ABSENT:
        if (!exists) headers.push([name, value]);
        break;
      case AppendAction.OVERWRITE_IF_EXISTS_OR_ADD:
        setHeader(headers, name, value);
        break;
      case AppendAction.OVERWRITE_IF_EXISTS:
        if (exists) setHeader(headers, name, value);
        break;
      default:
        if (option.append === true) headers.push([name, value]);
        else setHeader(headers, name, value);
    }
  }
  return undefined;
}
