/**
 * `npm run bench`: streams/s, latency, CPU and memory of this processor, its no-op floor and any
 * other ext_proc server, measured in turns in one run by this folder's Envoy-like load generator.
 * A measuring tool, not a test: numbers, no assertions. See test/bench/README.md.
 */
import { FLOOR_NAME, type Options, PROCESSOR_NAME, parseOptions, USAGE } from "./options.ts";
import { pinTree, processTree } from "./proc.ts";
import { buildReport, formatReport, machine } from "./report.ts";
import { runAll } from "./runner.ts";
import { attachPeer, startProcessor, type Target } from "./targets.ts";

async function startTargets(options: Options, targets: Target[]): Promise<void> {
  const processor = {
    workers: options.workers,
    rules: options.rules,
    env: options.env,
    cpus: options.serverCpus,
  };
  if (options.processor) {
    targets.push(await startProcessor({ ...processor, name: PROCESSOR_NAME, appsec: true }));
  }
  if (options.floor) {
    targets.push(await startProcessor({ ...processor, name: FLOOR_NAME, appsec: false }));
  }
  for (const peer of options.peers) targets.push(await attachPeer(peer, options.serverCpus));
}

async function main(): Promise<number> {
  const parsed = parseOptions(process.argv.slice(2));
  if ("errors" in parsed) {
    for (const error of parsed.errors) console.error(error);
    console.error(`\n${USAGE}`);
    return 2;
  }
  const options = parsed.ok;
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const host = machine();
  // The bench's own sampling stays off the servers' CPUs.
  if (options.clientCpus !== undefined) pinTree(processTree(process.pid), options.clientCpus);
  const targets: Target[] = [];
  const stopAll = () => Promise.all(targets.map((target) => target.stop()));
  process.once("SIGINT", () => void stopAll().then(() => process.exit(130)));
  try {
    await startTargets(options, targets);
    const progress = (line: string) => console.error(line);
    const run = await runAll(options, targets, progress);
    const report = buildReport(host, options, targets, run);
    console.log(options.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return 0;
  } finally {
    await stopAll();
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
