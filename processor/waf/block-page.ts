/**
 * Block pages: Datadog's standard JSON and HTML pages (or the operator's own), rendered for a
 * {@link WafAction} exactly as the Go processor renders them (docs/go-compatibility.md#blocking).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Logger } from "../log.ts";
import type { WafAction } from "./actions.ts";
import { WafLoadError } from "./errors.ts";

/**
 * dd-trace ships its default pages as string constants in this module (there are no
 * `blocked.json` / `blocked.html` files in dd-trace 6).
 */
const DD_TRACE_TEMPLATES_ID = "dd-trace/packages/dd-trace/src/appsec/blocking/templates.js";

/** Replaced, wherever it occurs, by the action's security response id (or by nothing). */
const ID_PLACEHOLDER = "[security_response_id]";

/** Go's content types; dd-trace-js adds `; charset=utf-8` to HTML, the Go image does not. */
const CONTENT_TYPES = { json: "application/json", html: "text/html" } as const;

/** The two page templates, each possibly containing `[security_response_id]`. */
export interface BlockTemplates {
  readonly json: string;
  readonly html: string;
}

/** Options of {@link loadBlockTemplates}. */
export interface BlockTemplatesOptions {
  /** File whose content replaces the JSON page (`DD_APPSEC_HTTP_BLOCKED_TEMPLATE_JSON`). */
  jsonPath?: string | undefined;
  /** File whose content replaces the HTML page (`DD_APPSEC_HTTP_BLOCKED_TEMPLATE_HTML`). */
  htmlPath?: string | undefined;
  log: Logger;
}

/** An HTTP response to send instead of the upstream's. Header names are lower-case. */
export interface BlockResponse {
  readonly status: number;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Uint8Array;
}

/**
 * Loads the block page templates once, at startup. Defaults are the pages of the installed
 * dd-trace package. A custom file that cannot be read is logged and the default kept, as the Go
 * image does. Throws a `block-templates` {@link WafLoadError} only if dd-trace's own pages are
 * missing.
 */
export function loadBlockTemplates(options: BlockTemplatesOptions): BlockTemplates {
  const defaults = ddTraceTemplates();
  return Object.freeze({
    json: readTemplate(options.jsonPath, "json", options.log) ?? defaults.json,
    html: readTemplate(options.htmlPath, "html", options.log) ?? defaults.html,
  });
}

function ddTraceTemplates(): BlockTemplates {
  let module: { json?: unknown; html?: unknown };
  try {
    module = createRequire(import.meta.url)(DD_TRACE_TEMPLATES_ID) as typeof module;
  } catch (cause) {
    throw new WafLoadError("block-templates", `cannot load dd-trace's block pages: ${cause}`, {
      cause,
    });
  }
  if (typeof module.json !== "string" || typeof module.html !== "string") {
    throw new WafLoadError("block-templates", `${DD_TRACE_TEMPLATES_ID} has no json/html pages`);
  }
  return { json: module.json, html: module.html };
}

function readTemplate(path: string | undefined, kind: string, log: Logger): string | undefined {
  if (path === undefined || path === "") return undefined;
  try {
    return readFileSync(path, "utf8");
  } catch (cause) {
    log.error("cannot read block page template; using the default", {
      template: kind,
      path,
      error: String(cause),
    });
    return undefined;
  }
}

/**
 * Renders the response for `action`. `acceptHeader` is the request's first `Accept` value.
 * - block, type `json` / `html`: that page; type `auto`: HTML only when `text/html` occurs in
 *   `Accept` before `application/json` or without it (Go's substring rule: q-values are ignored,
 *   `*\/*` or no header gives JSON). Headers `content-type` and `content-length`.
 * - redirect: the status, a `location` header with the placeholder filled, and an empty body.
 */
export function blockResponseFor(
  action: WafAction,
  acceptHeader: string | undefined,
  templates: BlockTemplates,
): BlockResponse {
  const id = action.securityResponseId ?? "";
  if (action.kind === "redirect") {
    const location = action.location.replaceAll(ID_PLACEHOLDER, id);
    return { status: action.status, headers: [["location", location]], body: new Uint8Array() };
  }
  const page = action.type === "auto" ? pageFromAccept(acceptHeader) : action.type;
  const body = new TextEncoder().encode(templates[page].replaceAll(ID_PLACEHOLDER, id));
  return {
    status: action.status,
    headers: [
      ["content-type", CONTENT_TYPES[page]],
      ["content-length", String(body.byteLength)],
    ],
    body,
  };
}

/** DataDog/dd-trace-go `actions/block.go` `newBlockHandler`: compare substring positions. */
function pageFromAccept(accept: string | undefined): "json" | "html" {
  if (accept === undefined) return "json";
  const html = accept.indexOf("text/html");
  const json = accept.indexOf("application/json");
  return html !== -1 && (json === -1 || html < json) ? "html" : "json";
}
