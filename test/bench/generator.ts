/**
 * Entry point of a load generator process (started by `generators.ts`, one or more per run). It
 * runs a `Load` on the commands it receives over IPC and answers each command with one message, so
 * the bench can open and close every generator's measurement window at the same moment and read
 * each one's own CPU time for exactly that window.
 */
import { Load } from "./load.ts";
import type { Command, Reply } from "./protocol.ts";
import { planOf, scenarioNamed } from "./scenarios.ts";

let load: Load | undefined;

function answer(reply: Reply): void {
  process.send?.(reply);
}

async function handle(command: Command): Promise<void> {
  switch (command.type) {
    case "init": {
      const scenario = scenarioNamed(command.scenario);
      if (scenario === undefined) throw new Error(`unknown scenario ${command.scenario}`);
      load = new Load({ ...command, plan: planOf(scenario, command.chunkSize) });
      await load.connect();
      return answer({ type: "ready" });
    }
    case "run":
      current().run(command.schedule);
      return answer({ type: "running" });
    case "mark":
      current().mark();
      return answer({ type: "marked" });
    case "drain":
      await current().drain(command.timeoutMs);
      return answer({ type: "drained" });
    case "stop": {
      const result = current().stop();
      answer({ type: "result", result });
      return current().drain(2000);
    }
    case "idle":
      return answer({ type: "idle-open", ...(await current().openIdle(command.count)) });
    case "cancel":
      return answer({ type: "cancelled", count: current().cancelIdle() });
    case "exit":
      load?.close();
      process.disconnect();
      return;
  }
}

function current(): Load {
  if (load === undefined) throw new Error("generator used before init");
  return load;
}

process.on("message", (command: Command) => {
  handle(command).catch((error: unknown) => {
    answer({ type: "failed", error: error instanceof Error ? error.message : String(error) });
  });
});
