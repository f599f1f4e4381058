/**
 * The settings table: every environment variable the processor reads, with its default, parser and
 * meaning. It is the single source for `loadConfig`, the README's configuration table and the
 * chart tests (which check that the chart sets no variable missing from here).
 *
 * Invalid values stop startup (exit code 2). The Go image instead warns and falls back to the
 * default; we reject because a typo in a security product's config must not pass silently, and a
 * Go-valid value is always valid here too (same boolean, integer and duration syntax).
 */
import type { LogLevel } from "../log.ts";
import { err, ok } from "../result.ts";
import {
  type Parsed,
  parseBool,
  parseChoice,
  parseDurationUs,
  parseInteger,
  parseIp,
  parsePort,
  parseRegExp,
  parseText,
} from "./parse.ts";

/** The processor's typed configuration, read once at startup and frozen. */
export interface Config {
  readonly host: string;
  readonly port: number;
  readonly healthPort: number;
  readonly tls: boolean;
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  readonly tlsReloadIntervalMs: number;
  /** PEM bundle of the CAs that sign client certificates; mutual TLS when set. */
  readonly tlsClientCaFile: string | undefined;
  readonly udsPath: string | undefined;
  readonly observabilityMode: boolean;
  readonly drainTimeoutMs: number;
  readonly maxConcurrentStreams: number;
  /** A stream silent this long is ended; 0 never ends one for idleness. */
  readonly streamIdleTimeoutMs: number;
  /** New streams that queued longer than this are refused; 0 never refuses for it. */
  readonly shedQueueDelayMs: number;
  /** New streams are refused while this many are open in the process; 0 sets no bound. */
  readonly maxOpenStreams: number;
  /** Worker processes serving gRPC; `undefined` means one per CPU the container may use. */
  readonly workers: number | undefined;
  readonly logLevel: LogLevel;
  /** Bytes of each body analysed; 0 turns body inspection off. */
  readonly bodyLimitBytes: number;
  /** Process-wide bound on buffered body bytes. */
  readonly bodyMemoryLimitBytes: number;
  /** How response bodies are asked for (request bodies are always streamed). */
  readonly responseBodyMode: "streamed" | "buffered-partial";
  /** WAF time budget per stream, in microseconds, across all runs of the stream. */
  readonly wafTimeoutUs: number;
  readonly appsecEnabled: boolean;
  readonly rulesPath: string | undefined;
  readonly obfuscatorKeyRegex: string | undefined;
  readonly obfuscatorValueRegex: string | undefined;
  readonly blockedTemplateJson: string | undefined;
  readonly blockedTemplateHtml: string | undefined;
  readonly traceRateLimitPerS: number;
  readonly apmTracingEnabled: boolean;
  readonly apiSecurityEnabled: boolean;
  readonly apiSecuritySampleDelayS: number;
  readonly clientIpHeader: string | undefined;
  readonly service: string;
  readonly env: string | undefined;
  readonly version: string | undefined;
  readonly agentHost: string;
  readonly agentPort: number;
  readonly agentUrl: string | undefined;
  /** Poll the Agent for Remote Configuration (WAF rules, blocked IPs and users, exclusions). */
  readonly remoteConfigEnabled: boolean;
  readonly remoteConfigPollIntervalMs: number;
}

/** One row of the settings table. */
export interface Setting<K extends keyof Config = keyof Config> {
  /** The environment variable. */
  readonly name: string;
  /** The Config field it fills. */
  readonly field: K;
  /** The value used when the variable is unset or empty. */
  readonly default: Config[K];
  /** The default as the README shows it. */
  readonly defaultText: string;
  readonly description: string;
  readonly parse: (raw: string) => Parsed<Config[K]>;
}

type AnySetting = { [K in keyof Config]: Setting<K> }[keyof Config];

const optional = (parse: (raw: string) => Parsed<string>) =>
  parse as (raw: string) => Parsed<string | undefined>;
const durationMs =
  (bare: "us" | "s") =>
  (raw: string): Parsed<number> => {
    const us = parseDurationUs(raw, bare);
    return us.ok ? ok(Math.round(us.value / 1000)) : us;
  };

/** A WAF budget under 1 µs never lets libddwaf run: every request would pass uninspected. */
function parseWafTimeout(raw: string): Parsed<number> {
  const us = parseDurationUs(raw, "us");
  if (us.ok && us.value < 1) {
    return err("a duration of at least 1us (0 would skip every WAF run)");
  }
  return us;
}

/** A poll interval: a positive duration of at most an hour (a bare number is seconds). */
function parsePollInterval(raw: string): Parsed<number> {
  const ms = durationMs("s")(raw);
  if (ms.ok && ms.value >= 10 && ms.value <= 3_600_000) return ms;
  return err("a duration from 10ms to 1h (a bare number is seconds, e.g. 5 or 0.5)");
}

function parseWorkers(raw: string): Parsed<number | undefined> {
  if (raw.trim() === "auto") return ok(undefined);
  const count = parseInteger(raw, 1, 256);
  return count.ok ? count : err("auto or an integer from 1 to 256");
}

/** Every variable the processor reads, in README order. */
const ROWS = [
  {
    name: "DD_SERVICE_EXTENSION_HOST",
    field: "host",
    default: "0.0.0.0",
    defaultText: "0.0.0.0",
    description: "Address the gRPC and health servers listen on.",
    parse: parseIp,
  },
  {
    name: "DD_SERVICE_EXTENSION_PORT",
    field: "port",
    default: 443,
    defaultText: "443",
    description: "gRPC (ext_proc) port.",
    parse: parsePort,
  },
  {
    name: "DD_SERVICE_EXTENSION_HEALTHCHECK_PORT",
    field: "healthPort",
    default: 80,
    defaultText: "80",
    description:
      "HTTP health check port: `GET /` answers 200 when ready, 503 while starting or draining, with the WAF's state; `GET /metrics` serves Prometheus metrics (docs/metrics.md).",
    parse: parsePort,
  },
  {
    name: "DD_SERVICE_EXTENSION_TLS",
    field: "tls",
    default: true,
    defaultText: "true",
    description:
      "Serve gRPC over TLS. When the certificate files do not exist, a self-signed certificate for `localhost` is generated in memory.",
    parse: parseBool,
  },
  {
    name: "DD_SERVICE_EXTENSION_TLS_CERT_FILE",
    field: "tlsCertFile",
    default: "localhost.crt",
    defaultText: "localhost.crt",
    description: "PEM certificate (chain). Reloaded when it changes on disk.",
    parse: parseText,
  },
  {
    name: "DD_SERVICE_EXTENSION_TLS_KEY_FILE",
    field: "tlsKeyFile",
    default: "localhost.key",
    defaultText: "localhost.key",
    description: "PEM private key. Reloaded when it changes on disk.",
    parse: parseText,
  },
  {
    name: "DD_SERVICE_EXTENSION_TLS_CLIENT_CA_FILE",
    field: "tlsClientCaFile",
    default: undefined,
    defaultText: "(unset)",
    description:
      "Mutual TLS: PEM bundle of the CAs that sign client certificates. When set, only clients presenting a certificate signed by one of them (Envoy's) can connect; a missing or invalid file stops startup, and TLS must be on. Reloaded when it changes on disk. The Go image has no such setting.",
    parse: optional(parseText),
  },
  {
    name: "DD_SERVICE_EXTENSION_TLS_RELOAD_INTERVAL",
    field: "tlsReloadIntervalMs",
    default: 10_000,
    defaultText: "10s",
    description:
      "How often the certificate files are checked for rotation (duration; a bare number is seconds).",
    parse: durationMs("s"),
  },
  {
    name: "DD_SERVICE_EXTENSION_UDS_PATH",
    field: "udsPath",
    default: undefined,
    defaultText: "(unset)",
    description: "Serve gRPC on this unix socket instead of TCP, without TLS. Health stays on TCP.",
    parse: optional(parseText),
  },
  {
    name: "DD_SERVICE_EXTENSION_OBSERVABILITY_MODE",
    field: "observabilityMode",
    default: false,
    defaultText: "false",
    description:
      "Analyse asynchronously and never block (Envoy's `observability_mode` must be on too). Logged as a warning at startup and shown by the health check.",
    parse: parseBool,
  },
  {
    name: "DD_SERVICE_EXTENSION_DRAIN_TIMEOUT",
    field: "drainTimeoutMs",
    default: 25_000,
    defaultText: "25s",
    description:
      "On SIGTERM, how long open streams may finish before exit (keep it below the pod's grace period).",
    parse: durationMs("s"),
  },
  {
    name: "DD_SERVICE_EXTENSION_MAX_CONCURRENT_STREAMS",
    field: "maxConcurrentStreams",
    default: 10_000,
    defaultText: "10000",
    description: "HTTP/2 streams per Envoy connection (one stream per HTTP request).",
    parse: (raw) => parseInteger(raw, 1, 2 ** 31 - 1),
  },
  {
    name: "DD_SERVICE_EXTENSION_STREAM_IDLE_TIMEOUT",
    field: "streamIdleTimeoutMs",
    default: 360_000,
    defaultText: "6m",
    description:
      "A stream that receives no message for this long (one that never sends anything, or sends request headers and stalls) is ended with DEADLINE_EXCEEDED and its WAF context released (duration; a bare number is seconds; 0 never ends one). Keep it above Envoy's stream idle timeout (5 min by default), after which no live request is silent.",
    parse: durationMs("s"),
  },
  {
    name: "DD_SERVICE_EXTENSION_SHED_QUEUE_DELAY",
    field: "shedQueueDelayMs",
    default: 50,
    defaultText: "50ms",
    description:
      "Load shedding: once a worker is backlogged (its event-loop turns late one after the other for 100 ms, so a burst, a long WAF run or a garbage collection alone refuses nothing), a new stream that has already waited this long in it when its headers are read is refused with RESOURCE_EXHAUSTED before any WAF work, so Envoy applies its failure mode at once instead of every request queueing past its message timeout; streams already open are served (duration; a bare number is seconds; 0 turns it off). Keep it well under Envoy's message timeout (the chart's 200ms): under overload each message of a served stream waits about this long. Refusals are counted in aap_extproc_streams_refused_total.",
    parse: durationMs("s"),
  },
  {
    name: "DD_SERVICE_EXTENSION_MAX_OPEN_STREAMS",
    field: "maxOpenStreams",
    default: 50_000,
    defaultText: "50000",
    description:
      "Load shedding: streams open at once in one worker, across connections; beyond it new streams are refused with RESOURCE_EXHAUSTED. Bounds memory (an idle stream costs a few KiB) where the event-loop signal cannot: a stream lives as long as its HTTP request. 0 sets no bound.",
    parse: (raw) => parseInteger(raw, 0, 2 ** 31 - 1),
  },
  {
    name: "DD_SERVICE_EXTENSION_WORKERS",
    field: "workers",
    default: undefined,
    defaultText: "auto",
    description:
      "Worker processes serving gRPC, one per core (`auto` or a number from 1 to 256). `auto`: the container's CPU limit rounded up (cgroup `cpu.max`), else the available CPUs, at most one per 192 MiB of the memory limit. 1 serves from a single process; more add a primary process that answers health and restarts crashed workers.",
    parse: parseWorkers,
  },
  {
    name: "DD_SERVICE_EXTENSION_LOG_LEVEL",
    field: "logLevel",
    default: "info",
    defaultText: "info",
    description: "Lowest level of the JSON logs: debug, info, warn or error.",
    parse: (raw) => parseChoice(raw, ["debug", "info", "warn", "error"] as const),
  },
  {
    name: "DD_APPSEC_BODY_PARSING_SIZE_LIMIT",
    field: "bodyLimitBytes",
    default: 10_485_760,
    defaultText: "10485760",
    description:
      "Bytes of each request and response body analysed; 0 turns body inspection off, which is logged as a warning at every start and shown by the health check (Envoy's `allow_mode_override` must be on for bodies).",
    parse: (raw) => parseInteger(raw, 0, 2 ** 31 - 1),
  },
  {
    name: "DD_SERVICE_EXTENSION_BODY_MEMORY_LIMIT",
    field: "bodyMemoryLimitBytes",
    default: 134_217_728,
    defaultText: "134217728",
    description:
      "Bytes of bodies held for analysis across all streams (128 MiB). When it is spent, a body is analysed with what it already holds instead of growing, so many concurrent uploads cannot exhaust memory. Keep it well below the container's memory limit; it may not be smaller than DD_APPSEC_BODY_PARSING_SIZE_LIMIT (startup fails).",
    parse: (raw) => parseInteger(raw, 1, 2 ** 40),
  },
  {
    name: "DD_SERVICE_EXTENSION_RESPONSE_BODY_MODE",
    field: "responseBodyMode",
    default: "streamed",
    defaultText: "streamed",
    description:
      "How response bodies are asked for: `streamed` (as the Go image: chunks flow on at once, so a block on the response body can only reset the stream) or `buffered-partial` (Envoy holds the response until its first buffer-limit bytes are analysed, so a response-body block sends the block page; adds latency to large responses).",
    parse: (raw) => parseChoice(raw, ["streamed", "buffered-partial"] as const),
  },
  {
    name: "DD_APPSEC_WAF_TIMEOUT",
    field: "wafTimeoutUs",
    default: 10_000,
    defaultText: "10ms",
    description:
      "WAF time budget per request (duration; a bare number is microseconds). A spent budget is recorded (metric `aap_extproc_waf_timeouts_total`), never an error: the request passes. 0 is rejected (no run could ever finish); below 1ms a warning is logged at startup.",
    parse: parseWafTimeout,
  },
  {
    name: "DD_APPSEC_ENABLED",
    field: "appsecEnabled",
    default: true,
    defaultText: "true",
    description:
      "Kill switch: false answers every message CONTINUE without running the WAF. Loud by design: a warning at every start, `appsec.enabled: false` on the health check and `aap_extproc_waf_ready 0` in metrics.",
    parse: parseBool,
  },
  {
    name: "DD_APPSEC_RULES",
    field: "rulesPath",
    default: undefined,
    defaultText: "(recommended rules of dd-trace)",
    description:
      "Path of a WAF ruleset file to use instead of the recommended one. A file that cannot be read or parsed, or whose rules all fail to load, stops startup (exit 1); rules that fail individually are logged.",
    parse: optional(parseText),
  },
  {
    name: "DD_APPSEC_OBFUSCATION_PARAMETER_KEY_REGEXP",
    field: "obfuscatorKeyRegex",
    default: undefined,
    defaultText: "(dd-trace default)",
    description:
      "Keys whose values are redacted in reported events (RE2 syntax, e.g. `(?i)pass|token`; lookaround and backreferences are rejected).",
    parse: optional(parseRegExp),
  },
  {
    name: "DD_APPSEC_OBFUSCATION_PARAMETER_VALUE_REGEXP",
    field: "obfuscatorValueRegex",
    default: undefined,
    defaultText: "(dd-trace default)",
    description: "Values redacted in reported events (RE2 syntax, as the key pattern).",
    parse: optional(parseRegExp),
  },
  {
    name: "DD_APPSEC_HTTP_BLOCKED_TEMPLATE_JSON",
    field: "blockedTemplateJson",
    default: undefined,
    defaultText: "(Datadog's page)",
    description: "File with the JSON block page.",
    parse: optional(parseText),
  },
  {
    name: "DD_APPSEC_HTTP_BLOCKED_TEMPLATE_HTML",
    field: "blockedTemplateHtml",
    default: undefined,
    defaultText: "(Datadog's page)",
    description: "File with the HTML block page.",
    parse: optional(parseText),
  },
  {
    name: "DD_APPSEC_TRACE_RATE_LIMIT",
    field: "traceRateLimitPerS",
    default: 100,
    defaultText: "100",
    description:
      "Traces with security events kept per second; 0 keeps none (attacks are still blocked but not reported), logged as a warning at startup.",
    parse: (raw) => parseInteger(raw, 0, 1_000_000),
  },
  {
    name: "DD_APM_TRACING_ENABLED",
    field: "apmTracingEnabled",
    default: false,
    defaultText: "false",
    description:
      "false: standalone App and API Protection, only traces with security events are kept; true: every request is traced.",
    parse: parseBool,
  },
  {
    name: "DD_API_SECURITY_ENABLED",
    field: "apiSecurityEnabled",
    default: true,
    defaultText: "true",
    description: "Extract API schemas from sampled requests.",
    parse: parseBool,
  },
  {
    name: "DD_API_SECURITY_SAMPLE_DELAY",
    field: "apiSecuritySampleDelayS",
    default: 30,
    defaultText: "30",
    description: "Seconds between two schema samples of the same endpoint.",
    parse: (raw) => parseInteger(raw, 0, 86_400),
  },
  {
    name: "DD_TRACE_CLIENT_IP_HEADER",
    field: "clientIpHeader",
    default: undefined,
    defaultText: "(unset)",
    description: "Only this header gives the client IP.",
    parse: optional(parseText),
  },
  {
    name: "DD_SERVICE",
    field: "service",
    default: "serviceextensions",
    defaultText: "serviceextensions",
    description: "Service name shown in Datadog.",
    parse: parseText,
  },
  {
    name: "DD_ENV",
    field: "env",
    default: undefined,
    defaultText: "(unset)",
    description: "Environment tag.",
    parse: optional(parseText),
  },
  {
    name: "DD_VERSION",
    field: "version",
    default: undefined,
    defaultText: "(processor version)",
    description: "Version tag; also shown by the health check.",
    parse: optional(parseText),
  },
  {
    name: "DD_AGENT_HOST",
    field: "agentHost",
    default: "localhost",
    defaultText: "localhost",
    description: "Datadog Agent host.",
    parse: parseText,
  },
  {
    name: "DD_TRACE_AGENT_PORT",
    field: "agentPort",
    default: 8126,
    defaultText: "8126",
    description: "Datadog Agent trace port.",
    parse: (raw) => parseInteger(raw, 1, 65535),
  },
  {
    name: "DD_TRACE_AGENT_URL",
    field: "agentUrl",
    default: undefined,
    defaultText: "(unset)",
    description: "Agent URL (`http://host:port` or `unix:///path`); wins over host and port.",
    parse: optional(parseText),
  },
  {
    name: "DD_REMOTE_CONFIGURATION_ENABLED",
    field: "remoteConfigEnabled",
    default: true,
    defaultText: "true",
    description:
      "Poll the Agent for Remote Configuration: blocked IPs and users, rule updates, exclusions and custom rules from the Datadog UI, applied without a restart.",
    parse: parseBool,
  },
  {
    name: "DD_REMOTE_CONFIG_POLL_INTERVAL_SECONDS",
    field: "remoteConfigPollIntervalMs",
    default: 5000,
    defaultText: "5",
    description: "Seconds between Remote Configuration polls (decimals allowed).",
    parse: parsePollInterval,
  },
] as const satisfies readonly AnySetting[];

/** Every variable the processor reads, in README order. */
export const SETTINGS: readonly AnySetting[] = ROWS;

/**
 * Config fields no row fills; `never` when the table is complete. The config test asserts it at
 * compile time, so a field added to {@link Config} without its variable does not type-check.
 */
export type FieldsWithoutRow = Exclude<keyof Config, (typeof ROWS)[number]["field"]>;
