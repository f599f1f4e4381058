/**
 * Structured JSON logging: one line per event on stdout (errors on stderr), with a level, a
 * component and a message. Call sites pass only identifiers, counts and codes as fields: never a
 * header value or a body. As a second line of defence, fields whose names look like carriers of
 * request data are replaced by `[redacted]`.
 */

/** Log levels, most verbose first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Extra fields of a log line. Values must be identifiers, counts or codes, never request data. */
export type LogFields = Record<string, string | number | boolean | null | undefined | string[]>;

/** A logger bound to one component (`server`, `extproc`, `waf`, `config`, ...). */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** True when lines of `level` are written: guards fields that cost something to build. */
  enabled(level: LogLevel): boolean;
  /** A logger for another component that shares this one's sink and level. */
  child(component: string): Logger;
}

/** Where log lines go; tests pass a function that collects them. */
export type LogSink = (line: string, level: LogLevel) => void;

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Lowest level written. Default `info`. */
  level?: LogLevel;
  /** Default: stdout, and stderr for `error`. */
  sink?: LogSink;
  /** Default `main`. */
  component?: string;
  /** Fields written on every line (e.g. the worker process). */
  fields?: LogFields;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Field names never written as given, whatever the call site passes. */
const REDACTED_FIELDS = /^(body|headers?|cookies?|value|authorization|query|payload)$/i;

/**
 * Bytes of log lines a stream may hold unwritten. stdout and stderr are pipes in a container: when
 * nobody reads them (a stalled log collector), Node queues every write in memory, without bound.
 * Past this backlog lines are dropped and counted instead, and the count is written as soon as the
 * backlog is below the bound again (with the next line), so memory stays bounded and the loss is
 * visible.
 */
export const MAX_LOG_BACKLOG_BYTES = 256 * 1024;

/** Writes lines to `out` unless its backlog is full; counts what it drops. */
export function boundedSink(
  out: Pick<NodeJS.WritableStream, "write"> & { readonly writableLength: number },
  maxBacklog = MAX_LOG_BACKLOG_BYTES,
): { write(line: string): void; readonly dropped: number } {
  let dropped = 0;
  let droppedTotal = 0;
  return {
    write(line) {
      if (out.writableLength > maxBacklog) {
        dropped++;
        droppedTotal++;
        return;
      }
      if (dropped > 0) {
        out.write(
          `${JSON.stringify({ time: new Date().toISOString(), level: "warn", component: "log", msg: "log lines dropped: output blocked", dropped })}\n`,
        );
        dropped = 0;
      }
      out.write(`${line}\n`);
    },
    get dropped() {
      return droppedTotal;
    },
  };
}

/** Created on first use: a process that logs nothing never touches stdout. */
let outputs:
  | { out: ReturnType<typeof boundedSink>; err: ReturnType<typeof boundedSink> }
  | undefined;

const defaultSink: LogSink = (line, level) => {
  outputs ??= { out: boundedSink(process.stdout), err: boundedSink(process.stderr) };
  (level === "error" ? outputs.err : outputs.out).write(line);
};

/** Creates a JSON logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const min = ORDER[options.level ?? "info"];
  const sink = options.sink ?? defaultSink;
  const make = (component: string): Logger => {
    const write = (level: LogLevel, msg: string, fields?: LogFields): void => {
      if (ORDER[level] < min) return;
      const line: Record<string, unknown> = {
        time: new Date().toISOString(),
        level,
        component,
        msg,
        ...options.fields,
      };
      for (const [key, value] of Object.entries(fields ?? {})) {
        if (value === undefined) continue;
        line[key] = REDACTED_FIELDS.test(key) ? "[redacted]" : value;
      }
      sink(JSON.stringify(line), level);
    };
    return {
      debug: (msg, fields) => write("debug", msg, fields),
      info: (msg, fields) => write("info", msg, fields),
      warn: (msg, fields) => write("warn", msg, fields),
      error: (msg, fields) => write("error", msg, fields),
      enabled: (level) => ORDER[level] >= min,
      child: (name) => make(name),
    };
  };
  return make(options.component ?? "main");
}

/** A logger that drops everything, for tests that do not look at logs. */
export const silentLogger: Logger = createLogger({ sink: () => {} });
