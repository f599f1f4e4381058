/** A collected body parsed into the WAF addresses of its direction. */
import { parseBody } from "../http/index.ts";
import { ADDRESSES, EXTRACT_SCHEMA } from "../waf/index.ts";
import type { CollectedBody } from "./body-collector.ts";

/** Which body. */
export type Direction = "request" | "response";

/** The addresses to run, or why the body could not be read (a note for the logs). */
export type BodyAddresses =
  | { readonly ok: true; readonly addresses: Record<string, unknown> }
  | { readonly ok: false; readonly note: string };

/**
 * Parses `body` (decoding its content encoding and charset) into `server.request.body` and the
 * uploaded file names, or `server.response.body`; `extractSchema` asks API Security for the
 * response's schemas in the same run.
 */
export async function bodyAddresses(
  direction: Direction,
  body: CollectedBody,
  limitBytes: number,
  extractSchema: boolean,
): Promise<BodyAddresses> {
  const parsed = await parseBody(body.bytes, {
    ...(body.contentType ? { contentType: body.contentType } : {}),
    ...(body.contentEncoding ? { contentEncoding: body.contentEncoding } : {}),
    truncated: body.truncated,
    limitBytes,
  });
  if (!parsed.ok) return { ok: false, note: `${direction}:${parsed.reason}` };
  if (direction === "response") {
    return {
      ok: true,
      addresses: {
        [ADDRESSES.RESPONSE_BODY]: parsed.value,
        ...(extractSchema ? { [ADDRESSES.WAF_CONTEXT_PROCESSOR]: EXTRACT_SCHEMA } : {}),
      },
    };
  }
  const filenames = parsed.filenames ?? [];
  return {
    ok: true,
    addresses: {
      [ADDRESSES.REQUEST_BODY]: parsed.value,
      ...(filenames.length > 0 ? { [ADDRESSES.REQUEST_BODY_FILENAMES]: filenames } : {}),
    },
  };
}
