/**
 * Builds processor/Dockerfile with podman and runs the image as the chart and a `docker run` would:
 * read-only root filesystem, the image's own non-root user, every capability dropped, and only
 * DD_AGENT_HOST set. Checks health, a block over a real ext_proc stream (TLS with the in-memory
 * certificate, as the Go image), a graceful stop, and prints the image size.
 *
 * The Dockerfile's bases come from registries this machine cannot reach; test/image/bases.ts
 * assembles local stand-ins under the same names. Skips, saying why, only when podman cannot run
 * here (`bash .ci/setup` installs it).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { V8_FLAGS } from "../../processor/workers/container.ts";
import { createClient, exchange, openStream } from "../support/grpc-client.ts";
import { getHeaders, kindOf, requestHeaders } from "../support/messages.ts";
import { ensureBases } from "./bases.ts";
import { podman, podmanAsync, podmanUnavailable, RUNTIME_FLAGS } from "./podman.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const DOCKERFILE = join(ROOT, "processor", "Dockerfile");
const IMAGE = "localhost/aap-extproc/processor:test";
const VERSION = (
  JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }
).version;

/** The default of `ARG name=...` in the Dockerfile. */
function argDefault(name: string): string {
  const match = readFileSync(DOCKERFILE, "utf8").match(new RegExp(`^ARG ${name}=(\\S+)$`, "m"));
  if (!match?.[1]) throw new Error(`processor/Dockerfile has no default for ARG ${name}`);
  return match[1];
}

function revision(): string {
  const git = spawnSync("git", ["rev-parse", "HEAD"], { cwd: ROOT, encoding: "utf8" });
  return git.status === 0 ? git.stdout.trim() : "unknown";
}

const unavailable = podmanUnavailable();

describe("processor image (podman)", {
  skip:
    unavailable &&
    `${unavailable}: run bash .ci/setup (it installs Debian's podman and runc), then npm run test:image`,
}, () => {
  const bases = { build: argDefault("BUILD_IMAGE"), runtime: argDefault("RUNTIME_IMAGE") };
  const containers: string[] = [];

  before(async () => {
    const created = ensureBases(bases);
    if (created.length > 0) console.log(`# assembled local base images: ${created.join(", ")}`);
    const started = Date.now();
    await podmanAsync([
      "build",
      ...RUNTIME_FLAGS,
      "--file",
      DOCKERFILE,
      "--build-arg",
      `VERSION=${VERSION}`,
      "--build-arg",
      `REVISION=${revision()}`,
      "--tag",
      IMAGE,
      ROOT,
    ]);
    console.log(`# built ${IMAGE} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  });

  after(() => {
    for (const name of containers) spawnSync("podman", ["rm", "--force", "--time", "0", name]);
    // The build's layers stay cached in podman's storage; only the test's tag goes.
    spawnSync("podman", ["rmi", "--force", IMAGE]);
  });

  test("prints the image size beside its runtime base", () => {
    const size = Number(podman(["image", "inspect", "--format", "{{.Size}}", IMAGE]));
    const base = Number(podman(["image", "inspect", "--format", "{{.Size}}", bases.runtime]));
    const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
    console.log(
      `# image size: ${mib(size)} (runtime base ${bases.runtime}: ${mib(base)}; processor layers: ${mib(size - base)})`,
    );
    assert.ok(size > base, "the image adds the processor to its base");
  });

  test("labels, user and entrypoint: OCI labels, a fixed non-root UID, node with the V8 flags", () => {
    const config = JSON.parse(
      podman(["image", "inspect", "--format", "{{json .Config}}", IMAGE]),
    ) as {
      Labels: Record<string, string>;
      User: string;
      Entrypoint: string[];
      Cmd: string[] | null;
    };
    assert.equal(config.Labels["org.opencontainers.image.version"], VERSION);
    assert.equal(config.Labels["org.opencontainers.image.revision"], revision());
    assert.equal(config.Labels["org.opencontainers.image.licenses"], "Apache-2.0");
    assert.match(
      config.Labels["org.opencontainers.image.source"] ?? "",
      /^https:\/\/github\.com\//,
    );
    assert.equal(config.User, "65532:65532");
    assert.deepEqual(config.Entrypoint, [
      "/nodejs/bin/node",
      ...V8_FLAGS,
      "dist/processor/main.js",
    ]);
  });

  test("has no shell to run", () => {
    const run = spawnSync(
      "podman",
      ["run", "--rm", ...RUNTIME_FLAGS, "--entrypoint", "/bin/sh", IMAGE, "-c", "true"],
      {
        encoding: "utf8",
      },
    );
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /no such file|not found/i);
  });

  test("runs read-only as non-root with only DD_AGENT_HOST set: healthy, blocks an attack, stops cleanly", async () => {
    const name = `aap-extproc-image-test-${process.pid}`;
    containers.push(name);
    podman([
      "run",
      "--detach",
      "--name",
      name,
      ...RUNTIME_FLAGS,
      "--read-only",
      "--cap-drop",
      "ALL",
      "--security-opt",
      "no-new-privileges",
      // What Docker sets in every container's network namespace, so the Go image's ports (443,
      // 80) work for a non-root process; podman 4 does not set it by default.
      "--sysctl",
      "net.ipv4.ip_unprivileged_port_start=0",
      "--env",
      "DD_AGENT_HOST=127.0.0.1",
      "--publish",
      "127.0.0.1::443",
      "--publish",
      "127.0.0.1::80",
      IMAGE,
    ]);
    const hostPort = (port: number) =>
      Number(
        podman(["port", name, `${port}/tcp`])
          .split(":")
          .pop(),
      );
    const grpcPort = hostPort(443);
    const healthPort = hostPort(80);

    let health: Response | undefined;
    for (let attempt = 0; attempt < 120 && health?.status !== 200; attempt++) {
      health = await fetch(`http://127.0.0.1:${healthPort}/`).catch(() => undefined);
      if (health?.status !== 200) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.equal(health?.status, 200, `not healthy:\n${podman(["logs", name])}`);
    const body = (await health.json()) as {
      status: string;
      library: unknown;
      appsec: unknown;
      waf?: { ready?: boolean; loadedRules?: number };
    };
    assert.equal(body.status, "ok");
    assert.deepEqual(body.library, { language: "nodejs", version: VERSION });
    assert.deepEqual(body.appsec, { enabled: true });
    assert.equal(body.waf?.ready, true);
    assert.ok((body.waf?.loadedRules ?? 0) > 100, "the recommended ruleset is loaded");
    const uid = podman([
      "exec",
      name,
      "/nodejs/bin/node",
      "-p",
      'process.getuid() + ":" + process.getgid()',
    ]);
    assert.equal(uid, "65532:65532");

    const client = createClient(`127.0.0.1:${grpcPort}`, { insecureSkipVerify: true });
    try {
      const stream = openStream(client);
      const reply = await exchange(
        stream,
        requestHeaders(getHeaders("/", { "user-agent": "dd-test-scanner-log-block" }), true),
        10_000,
      );
      assert.equal(kindOf(reply), "immediateResponse");
      if (reply.response.case !== "immediateResponse") throw new Error("unreachable");
      assert.equal(reply.response.value.status?.code, 403);
      await stream.status;
    } finally {
      client.close();
    }

    const stopping = Date.now();
    // Asynchronously: a blocking spawnSync would keep the client's connection from closing, and
    // the processor would wait out its drain timeout for it.
    await podmanAsync(["stop", "--time", "30", name]);
    console.log(`# stopped in ${Date.now() - stopping} ms`);
    assert.equal(podman(["wait", name]), "0");
    const logs = execFileSync("podman", ["logs", name], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    assert.match(logs, /"msg":"shutdown complete"/);
  });
});
