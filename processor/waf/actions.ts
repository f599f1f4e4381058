/**
 * Verdicts: libddwaf's `actions` map turned into a neutral, proxy-independent type.
 *
 * Rules follow DataDog/dd-trace-go `instrumentation/appsec/emitter/waf/actions/{block,http_redirect}.go`
 * (docs/go-compatibility.md#blocking) and dd-trace-js `appsec/blocking/index.js`.
 */

/** How a block page is rendered: `auto` picks JSON or HTML from the request's `Accept`. */
export type BlockType = "auto" | "json" | "html";

/** What to do instead of forwarding the request or response. */
export type WafAction =
  | {
      kind: "block";
      /** HTTP status of the block page; default 403. */
      status: number;
      type: BlockType;
      /** Id libddwaf generated for this verdict; shown on the block page and in the event. */
      securityResponseId?: string;
    }
  | {
      kind: "redirect";
      /** A 3xx status; default 303. */
      status: number;
      /** As configured; `[security_response_id]` is filled in by `blockResponseFor`. */
      location: string;
      securityResponseId?: string;
    };

const DEFAULT_BLOCK_STATUS = 403;
const DEFAULT_REDIRECT_STATUS = 303;

/**
 * Parses libddwaf's `actions` (an object keyed by action type, docs/libddwaf-and-dd-trace.md).
 * Returns the blocking verdicts, redirect first (dd-trace gives `redirect_request` priority over
 * `block_request`); other action types (`generate_stack`, custom ones) are ignored.
 */
export function actionsFromWaf(actions: unknown): WafAction[] {
  if (!isRecord(actions)) return [];
  const out: WafAction[] = [];
  if (isRecord(actions.redirect_request)) out.push(redirectFrom(actions.redirect_request));
  if (isRecord(actions.block_request)) out.push(blockFrom(actions.block_request));
  return out;
}

/**
 * `block_request`. Go drops the whole action when `status_code` is not an unsigned integer; we
 * block with 403 instead, because a rule asked to block and libddwaf already validated it.
 */
function blockFrom(params: Record<string, unknown>): WafAction {
  const status = httpStatus(params.status_code);
  const type = params.type === "json" || params.type === "html" ? params.type : "auto";
  return withId(
    {
      kind: "block",
      status: status !== undefined && status >= 100 ? status : DEFAULT_BLOCK_STATUS,
      type,
    },
    params,
  );
}

/** `redirect_request`: a non-3xx status becomes 303; no location falls back to a 403 auto block. */
function redirectFrom(params: Record<string, unknown>): WafAction {
  const location = params.location;
  if (typeof location !== "string" || location === "") {
    return withId({ kind: "block", status: DEFAULT_BLOCK_STATUS, type: "auto" }, params);
  }
  const status = httpStatus(params.status_code);
  const redirect =
    status !== undefined && status >= 300 && status < 400 ? status : DEFAULT_REDIRECT_STATUS;
  return withId({ kind: "redirect", status: redirect, location }, params);
}

function withId(action: WafAction, params: Record<string, unknown>): WafAction {
  const id = params.security_response_id;
  if (typeof id === "string" && id !== "") action.securityResponseId = id;
  return action;
}

/**
 * An integer status below 600, given as a number or a decimal string (older libddwaf versions and
 * Go's weak decoding of redirect parameters accept strings).
 */
function httpStatus(value: unknown): number | undefined {
  const n = typeof value === "string" && /^\d{1,3}$/.test(value) ? Number(value) : value;
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n < 600 ? n : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
