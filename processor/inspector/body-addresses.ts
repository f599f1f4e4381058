/** A collected body parsed into the WAF addresses of its direction. */
import { parseBody } from "../http/index.ts";
import { err, ok, type Result } from "../result.ts";
import { ADDRESSES, EXTRACT_SCHEMA } from "../waf/index.ts";
import type { CollectedBody } from "./body-collector.ts";

/** Which body. */
export type Direction = "request" | "response";

/**
 * Parses `body` (decoding its content encoding and charset) into `server.request.body` and the
 * uploaded file names, or `server.response.body`; `extractSchema` asks API Security for the
 * response's schemas in the same run. The error is why the body could not be read: a note for
 * the logs, such as `request:empty-body`.
 */
export async function bodyAddresses(
  direction: Direction,
  body: CollectedBody,
  limitBytes: number,
  extractSchema: boolean,
): Promise<Result<Record<string, unknown>, string>> {
  const parsed = await parseBody(body.bytes, {
    ...(body.contentType ? { contentType: body.contentType } : {}),
    ...(body.contentEncoding ? { contentEncoding: body.contentEncoding } : {}),
    truncated: body.truncated,
    limitBytes,
  });
  if (!parsed.ok) return err(`${direction}:${parsed.error}`);
  const { content, filenames = [] } = parsed.value;
  if (direction === "response") {
    return ok({
      [ADDRESSES.RESPONSE_BODY]: content,
      ...(extractSchema ? { [ADDRESSES.WAF_CONTEXT_PROCESSOR]: EXTRACT_SCHEMA } : {}),
    });
  }
  return ok({
    [ADDRESSES.REQUEST_BODY]: content,
    ...(filenames.length > 0 ? { [ADDRESSES.REQUEST_BODY_FILENAMES]: filenames } : {}),
  });
}
