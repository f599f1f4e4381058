/**
 * Local stand-ins for the two bases of processor/Dockerfile, for machines that reach no container
 * registry (this project's CI reaches only package registries). Each is assembled from files this
 * machine already has and imported into podman under the name the Dockerfile's build argument
 * expects, so the Dockerfile is built exactly as written:
 *
 * - the runtime base mirrors distroless `nodejs24-debian12:nonroot`: `node` at /nodejs/bin/node,
 *   glibc and libstdc++, CA certificates, /etc/passwd with `nonroot` (65532), no shell at all;
 * - the build base mirrors `node:24-bookworm-slim`: node and npm under /usr/local, a POSIX shell
 *   (npm runs scripts with `sh -c`) and `env` (for `#!/usr/bin/env node` scripts).
 *
 * `node` is the Node.js 24 running the tests (from the npm registry, see .ci/env.sh), npm the
 * machine's own. An image that already exists under the name (a real pull) is left alone.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** Defaults of the Dockerfile's `ARG BUILD_IMAGE` and `ARG RUNTIME_IMAGE`. */
export interface BaseNames {
  readonly build: string;
  readonly runtime: string;
}

/** Copies `binary` to `root/target` with the shared libraries `ldd` says it loads. */
function copyWithLibraries(root: string, binary: string, target: string): void {
  mkdirSync(join(root, dirname(target)), { recursive: true });
  copyFileSync(realpathSync(binary), join(root, target));
  chmodSync(join(root, target), 0o755);
  const ldd = spawnSync("ldd", [binary], { encoding: "utf8" });
  for (const match of ldd.stdout.matchAll(/(\/\S+\.so[.\d]*)/g)) {
    const library = match[1] as string;
    const dest = join(root, library);
    if (existsSync(dest)) continue;
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(realpathSync(library), dest);
  }
}

/** What both bases share: users, name resolution, CA certificates, a sticky /tmp. */
function commonFiles(root: string): void {
  mkdirSync(join(root, "etc/ssl/certs"), { recursive: true });
  writeFileSync(
    join(root, "etc/passwd"),
    "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
  );
  writeFileSync(join(root, "etc/group"), "root:x:0:\nnonroot:x:65532:\n");
  writeFileSync(join(root, "etc/nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files dns\n");
  const certs = "/etc/ssl/certs/ca-certificates.crt";
  if (existsSync(certs)) copyFileSync(certs, join(root, certs));
  for (const dir of ["tmp", "root", "home/nonroot"])
    mkdirSync(join(root, dir), { recursive: true });
  chmodSync(join(root, "tmp"), 0o1777);
}

/** The directory of the npm package the machine's `npm` command runs. */
function npmPackageDir(): string {
  const cli = realpathSync(
    execFileSync("sh", ["-c", "command -v npm"], { encoding: "utf8" }).trim(),
  );
  return dirname(dirname(cli));
}

function assembleRuntime(root: string): string[] {
  commonFiles(root);
  copyWithLibraries(root, process.execPath, "nodejs/bin/node");
  return ["USER 65532:65532", 'ENTRYPOINT ["/nodejs/bin/node"]'];
}

function assembleBuild(root: string): string[] {
  commonFiles(root);
  copyWithLibraries(root, process.execPath, "usr/local/bin/node");
  copyWithLibraries(root, realpathSync("/bin/sh"), "bin/sh");
  copyWithLibraries(root, "/usr/bin/env", "usr/bin/env");
  cpSync(npmPackageDir(), join(root, "usr/local/lib/node_modules/npm"), { recursive: true });
  symlinkSync("../lib/node_modules/npm/bin/npm-cli.js", join(root, "usr/local/bin/npm"));
  symlinkSync("../lib/node_modules/npm/bin/npx-cli.js", join(root, "usr/local/bin/npx"));
  return [
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV HOME=/root",
    // npm trusts the machine's CA bundle (copied above), as npm on the machine itself does: the
    // package registry may be reached through a TLS proxy with its own CA.
    "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt",
    'CMD ["node"]',
  ];
}

function imageExists(name: string): boolean {
  return spawnSync("podman", ["image", "exists", name]).status === 0;
}

/** Assembles one base in a temporary directory, imports it as `name`, removes the directory. */
function importBase(name: string, assemble: (root: string) => string[]): void {
  const root = mkdtempSync(join(tmpdir(), "aap-image-base-"));
  try {
    const changes = assemble(root).flatMap((change) => ["--change", change]);
    const pipeline = spawnSync(
      "sh",
      [
        "-c",
        // $1 is the directory to archive, the rest are podman import's arguments.
        'root=$1; shift; tar --numeric-owner --owner=0 --group=0 -C "$root" -c . | podman import --quiet "$@"',
        "sh",
        root,
        ...changes,
        "-",
        name,
      ],
      { encoding: "utf8" },
    );
    if (pipeline.status !== 0) {
      throw new Error(`podman import of ${name} failed: ${pipeline.stderr.trim()}`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Makes sure both bases exist under `names`; returns the names it created. */
export function ensureBases(names: BaseNames): string[] {
  const created: string[] = [];
  if (!imageExists(names.runtime)) {
    importBase(names.runtime, assembleRuntime);
    created.push(names.runtime);
  }
  if (!imageExists(names.build)) {
    importBase(names.build, assembleBuild);
    created.push(names.build);
  }
  return created;
}
