/**
 * URL pieces of the span: the resource path (as Go's `path.Clean(URL.Path)`), `http.url` with the
 * query obfuscated (dd-trace's default regex), and `http.endpoint` (dd-trace's route-less
 * normaliser).
 */

/**
 * dd-trace's default `DD_TRACE_OBFUSCATION_QUERY_STRING_REGEXP` (`config/supported-configurations.json`
 * of dd-trace 6.21.0; a unit test checks the copy against the installed package). Shared by all
 * Datadog tracers.
 */
export const DEFAULT_QUERY_OBFUSCATION_REGEX =
  '(?:(?:"|%22)?)(?:(?:old[-_]?|new[-_]?)?p(?:ass)?w(?:or)?d(?:1|2)?|pass(?:[-_]?phrase)?|secret|(?:api[-_]?|private[-_]?|public[-_]?|access[-_]?|secret[-_]?|app(?:lication)?[-_]?)key(?:[-_]?id)?|token|consumer[-_]?(?:id|key|secret)|sign(?:ed|ature)?|auth(?:entication|orization)?)(?:(?:\\s|%20)*(?:=|%3D)[^&]+|(?:"|%22)(?:\\s|%20)*(?::|%3A)(?:\\s|%20)*(?:"|%22)(?:%2[^2]|%[^2]|[^"%])+(?:"|%22))|(?:bearer(?:\\s|%20)+[a-z0-9._\\-]+|token(?::|%3A)[a-z0-9]{13}|gh[opsu]_[0-9a-zA-Z]{36}|(^|[^\\w%-]|%[0-9a-f]{2})ey[I-L][\\w-]+(?:=|%3D)*\\.ey[I-L][\\w-]+(?:=|%3D)*(?:\\.(?:[\\w.+/=-]|%3D|%2F|%2B)+)?|-{5}BEGIN(?:[a-z\\s]|%20)+PRIVATE(?:\\s|%20)KEY-{5}[^\\-]+-{5}END(?:[a-z\\s]|%20)+PRIVATE(?:\\s|%20)KEY(?:-{5})?(?:\\n|%0A)?|(?:ssh-(?:rsa|dss)|ecdsa-[a-z0-9]+-[a-z0-9]+)(?:\\s|%20|%09)+(?:[a-z0-9/.+]|%2F|%5C|%2B){100,}(?:=|%3D)*(?:(?:\\s|%20|%09)+[a-z0-9._-]+)?)';

const DEFAULT_QUERY_OBFUSCATOR = new RegExp(DEFAULT_QUERY_OBFUSCATION_REGEX, "gi");

/**
 * Redacts secrets in a raw query string as dd-trace's `obfuscateQs` does: with the default regex,
 * group 1 (the delimiter in front of a JWT) is kept.
 */
export function obfuscateQuery(
  query: string,
  obfuscator: RegExp = DEFAULT_QUERY_OBFUSCATOR,
): string {
  const replacement = obfuscator === DEFAULT_QUERY_OBFUSCATOR ? "$1<redacted>" : "<redacted>";
  return query.replace(obfuscator, replacement);
}

/**
 * `http.url`: `<scheme>://<authority><raw path>[?<obfuscated query>]`. The path is not cleaned
 * and the fragment is dropped, as in the Go reference (B35).
 */
export function httpUrl(scheme: string, authority: string, rawUri: string): string {
  const end = rawUri.search(/[?#]/);
  const path = end === -1 ? rawUri : rawUri.slice(0, end);
  let query = "";
  if (end !== -1 && rawUri[end] === "?") {
    const hash = rawUri.indexOf("#", end);
    query = rawUri.slice(end + 1, hash === -1 ? undefined : hash);
  }
  const base = `${scheme}://${authority}${path}`;
  return query === "" ? base : `${base}?${obfuscateQuery(query)}`;
}

/**
 * The resource's path: the percent-decoded path cleaned as Go's `path.Clean` does (dot segments
 * and repeated slashes removed, no trailing slash). An invalid `%` escape stays literal, as Go's
 * repair (`%` → `%25`) gives. `/../../../resource-span/.` → `/resource-span`.
 */
export function resourcePath(rawPath: string): string {
  return cleanPath(percentDecode(rawPath));
}

const HEX = /^[0-9a-fA-F]{2}$/;

/** Decodes valid `%XX` escapes as UTF-8 bytes (invalid sequences become U+FFFD). */
export function percentDecode(raw: string): string {
  if (!raw.includes("%")) return raw;
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < raw.length; ) {
    const hex = raw.slice(i + 1, i + 3);
    if (raw[i] === "%" && HEX.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 3;
      continue;
    }
    const codePoint = raw.codePointAt(i) ?? 0;
    const char = String.fromCodePoint(codePoint);
    for (const byte of encoder.encode(char)) bytes.push(byte);
    i += char.length;
  }
  return new TextDecoder().decode(Uint8Array.from(bytes));
}

/** A port of Go's `path.Clean` (lexical processing only). */
export function cleanPath(path: string): string {
  if (path === "") return ".";
  const rooted = path.startsWith("/");
  const out: string[] = [];
  let dotdots = 0; // leading `..` kept in a relative path
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (out.length > dotdots) out.pop();
      else if (!rooted) {
        out.push("..");
        dotdots += 1;
      }
      continue;
    }
    out.push(segment);
  }
  const joined = out.join("/");
  if (rooted) return `/${joined}`;
  return joined === "" ? "." : joined;
}

const INT_SEGMENT = /^[1-9][0-9]+$/;
const INT_ID_SEGMENT = /^(?=.*[0-9])[0-9._-]{3,}$/;
const HEX_SEGMENT = /^(?=.*[0-9])[A-Fa-f0-9]{6,}$/;
const HEX_ID_SEGMENT = /^(?=.*[0-9])[A-Fa-f0-9._-]{6,}$/;
const SPECIAL_CHARACTER_SEGMENT = /[%&'()*+,:=@]/;

/**
 * `http.endpoint`: the path with identifier-like segments replaced, at most 8 segments
 * (dd-trace's `calculateHttpEndpoint`, the same rules as dd-trace-go's). `/users/123/orders` →
 * `/users/{param:int}/orders`.
 */
export function httpEndpoint(rawPath: string): string {
  const segments = rawPath.split("/").filter(Boolean).slice(0, 8);
  if (segments.length === 0) return "/";
  return `/${segments.map(normaliseSegment).join("/")}`;
}

function normaliseSegment(segment: string): string {
  if (INT_SEGMENT.test(segment)) return "{param:int}";
  if (INT_ID_SEGMENT.test(segment)) return "{param:int_id}";
  if (HEX_SEGMENT.test(segment)) return "{param:hex}";
  if (HEX_ID_SEGMENT.test(segment)) return "{param:hex_id}";
  if (segment.length >= 20 || SPECIAL_CHARACTER_SEGMENT.test(segment)) return "{param:str}";
  return segment;
}
