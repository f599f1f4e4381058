/**
 * Real attack tools from Debian against the try-it gateway with every detection blocking
 * (`npm run demo -- --block-all`): sqlmap (batch mode, level 1 / risk 1, a bounded run of about a
 * hundred requests) and wfuzz with its injection lists. Counts come from the gateway's per-request
 * log. All traffic stays on 127.0.0.1. The tools come from .ci/setup.d/30-attack-tools.sh; where
 * they could not be installed (no apt, not root), each tool's tests skip with a message saying so.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import type { RequestLogEntry } from "../../tools/try-it/gateway.ts";
import { type DemoProcess, startDemo } from "./support/demo-process.ts";

const run = promisify(execFile);
/** A browser user agent, so that payloads (not the tool's fingerprint) decide the verdict. */
const BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const WORDLISTS = "/usr/share/wfuzz/wordlist/Injections";
const INSTALL = "run `bash .ci/setup.d/30-attack-tools.sh` (apt-get install sqlmap wfuzz)";

/**
 * Share of sqlmap's payload-carrying requests that must be blocked. At level 1 the only requests
 * without SQL syntax are the baseline (`id=1`, excluded), one random-integer dynamicity probe and
 * two character-soup heuristics; everything else is a boolean, error, stacked, time or UNION
 * injection that libddwaf's SQLi detection should block. Measured: 70 of 73 (96 %). Below 80 %,
 * real injection payloads are getting through.
 */
const SQLMAP_MIN_BLOCKED = 0.8;

function tally(entries: readonly RequestLogEntry[]) {
  const count = (verdict: RequestLogEntry["verdict"]) =>
    entries.filter((e) => e.verdict === verdict).length;
  return {
    requests: entries.length,
    blocked: count("blocked"),
    flagged: count("flagged"),
    clean: count("clean"),
    other: entries.length - count("blocked") - count("flagged") - count("clean"),
  };
}

/** Why `name` cannot run here (a skip message), or false when it is installed. */
function missing(name: string, needs: readonly string[] = []): string | false {
  const found = spawnSync("sh", ["-c", `command -v ${name}`]).status === 0;
  if (!found) return `${name} is not installed: ${INSTALL}`;
  const absent = needs.find((path) => !existsSync(path));
  return absent === undefined ? false : `${absent} is missing: ${INSTALL}`;
}

const SQLMAP_MISSING = missing("sqlmap");
const WFUZZ_MISSING = missing("wfuzz", [WORDLISTS]);

describe("real scanners against the try-it gateway (--block-all)", () => {
  let demo: DemoProcess;
  let output: string;
  before(async () => {
    demo = await startDemo(["--block-all"]);
    output = mkdtempSync(join(tmpdir(), "aap-scanners-"));
  });
  after(async () => {
    await demo?.stop();
    if (output) rmSync(output, { recursive: true, force: true });
  });

  /** Runs a tool and returns the gateway log entries its requests produced. */
  async function scan(name: string, args: string[], expected?: number): Promise<RequestLogEntry[]> {
    const from = demo.entries.length;
    // The tools' own temporary files go to the output directory, removed after the tests.
    await run(name, args, {
      timeout: 240_000,
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, TMPDIR: output },
    });
    // Entries are logged once each stream ended; give the last ones a moment.
    let last = -1;
    while (
      demo.entries.length !== last ||
      (expected !== undefined && demo.entries.length < from + expected)
    ) {
      last = demo.entries.length;
      await new Promise((resolve) => setTimeout(resolve, 300));
      if (
        expected !== undefined &&
        demo.entries.length === last &&
        demo.entries.length >= from + expected
      )
        break;
    }
    return demo.entries.slice(from);
  }

  test("sqlmap: its default user agent is blocked as a scanner", {
    skip: SQLMAP_MISSING,
  }, async () => {
    const entries = await scan("sqlmap", sqlmapArgs(demo.port, output));
    const counts = tally(entries);
    console.log(`sqlmap (own user agent): ${JSON.stringify(counts)}`);
    assert.ok(counts.requests > 0, "sqlmap sent nothing");
    assert.equal(counts.blocked, counts.requests, "every request carries the sqlmap user agent");
  });

  test(`sqlmap: at least ${SQLMAP_MIN_BLOCKED * 100} % of its injection payloads are blocked`, {
    skip: SQLMAP_MISSING,
  }, async () => {
    const entries = await scan("sqlmap", [
      ...sqlmapArgs(demo.port, output),
      "--user-agent",
      BROWSER_UA,
    ]);
    const payloads = entries.filter((e) => e.path !== "/echo?id=1");
    const counts = tally(payloads);
    const rate = counts.blocked / Math.max(1, counts.requests);
    console.log(
      `sqlmap (browser user agent): ${entries.length} requests, ${counts.requests} with a payload: ` +
        `${JSON.stringify(counts)}, ${(rate * 100).toFixed(1)} % blocked`,
    );
    for (const e of payloads.filter((p) => p.verdict !== "blocked"))
      console.log(`  not blocked: ${e.path}`);
    assert.ok(counts.requests >= 30, `sqlmap sent only ${counts.requests} payloads`);
    assert.ok(
      rate >= SQLMAP_MIN_BLOCKED,
      `only ${(rate * 100).toFixed(1)} % of sqlmap's payloads were blocked`,
    );
    assert.ok(entries.every((e) => !(e.verdict === "blocked" && e.reachedBackend)));
  });

  for (const list of ["SQL", "XSS", "Traversal"]) {
    test(`wfuzz ${list}.txt: every payload is answered; blocked and flagged counts`, {
      skip: WFUZZ_MISSING,
    }, async () => {
      const wordlist = join(WORDLISTS, `${list}.txt`);
      assert.ok(existsSync(wordlist), `${wordlist} is missing: ${INSTALL}`);
      const args = [
        "-z",
        `file,${wordlist},urlencode`,
        "-H",
        `User-Agent: ${BROWSER_UA}`,
        "-u",
        `http://127.0.0.1:${demo.port}/echo?q=FUZZ`,
      ];
      const processed = await wfuzzCount(args);
      const entries = await scan("wfuzz", args, processed);
      const counts = tally(entries);
      console.log(
        `wfuzz ${list}.txt: ${JSON.stringify(counts)} (${((counts.blocked / counts.requests) * 100).toFixed(1)} % blocked)`,
      );
      assert.equal(counts.requests, processed, "one gateway log line per wfuzz request");
      assert.ok(counts.blocked > 0, `nothing from ${list}.txt was blocked`);
    });
  }
});

function sqlmapArgs(port: number, output: string): string[] {
  return [
    "--batch",
    "--level",
    "1",
    "--risk",
    "1",
    "--technique=BEUST",
    "--flush-session",
    "--disable-coloring",
    "--timeout",
    "5",
    "--retries",
    "0",
    "--output-dir",
    output,
    "-u",
    `http://127.0.0.1:${port}/echo?id=1`,
  ];
}

/** The number of requests wfuzz will send (lines of the list), from a dry run. */
async function wfuzzCount(args: string[]): Promise<number> {
  const { stdout } = await run("wfuzz", ["--dry-run", ...args], {
    timeout: 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const match = /Processed Requests: (\d+)/.exec(stdout);
  assert.ok(match, `unexpected wfuzz output: ${stdout.slice(-500)}`);
  return Number(match[1]);
}
