/**
 * The podman commands the image test runs. podman stands in for Docker (no Docker engine here);
 * `runc` and explicit ulimits are what work inside this project's CI containers, where podman's
 * defaults (crun, the host's rlimits) are refused.
 */
import { spawn, spawnSync } from "node:child_process";

/** Flags every `podman build` and `podman run` gets. */
export const RUNTIME_FLAGS: readonly string[] = [
  "--runtime",
  "runc",
  "--ulimit",
  "nofile=4096:4096",
  "--ulimit",
  "nproc=1024:1024",
];

/** Why podman cannot be used here, or undefined when it can. */
export function podmanUnavailable(): string | undefined {
  const info = spawnSync("podman", ["info", "--format", "{{.Host.OCIRuntime.Name}}"], {
    encoding: "utf8",
  });
  if (info.error) return `podman is not installed (${info.error.message})`;
  if (info.status !== 0) return `podman info failed: ${info.stderr.trim().split("\n").pop()}`;
  const runc = spawnSync("runc", ["--version"]);
  if (runc.error) return "runc is not installed";
  return undefined;
}

/** Runs podman and returns its stdout; throws with stderr when it fails. */
export function podman(args: readonly string[]): string {
  const result = spawnSync("podman", args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    throw new Error(`podman ${args.slice(0, 2).join(" ")} failed: ${result.stderr.trim()}`);
  }
  return result.stdout.trim();
}

/**
 * Runs a long podman command (a build) without blocking the event loop; resolves with its
 * output, rejects with the last lines when it fails.
 */
export function podmanAsync(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("podman", args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(output);
      else
        reject(
          new Error(
            `podman ${args[0]} exited ${code}:\n${output.split("\n").slice(-40).join("\n")}`,
          ),
        );
    });
  });
}
