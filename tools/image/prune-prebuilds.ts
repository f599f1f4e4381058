/**
 * Removes the prebuilt native binaries of other platforms from a production `node_modules`
 * (`node tools/image/prune-prebuilds.ts node_modules`), for the processor image.
 *
 * libddwaf's bindings and dd-trace's native helpers ship one `prebuilds/<platform>-<arch>` folder
 * per platform (about 70 MiB in all); the image runs on one, glibc Linux of the build stage's
 * architecture (multi-arch builds run this stage once per architecture). Folders that are not named
 * after a platform (WebAssembly modules and the like) stay, and so does everything outside
 * `prebuilds`. Prints what it removed, and fails if the target's own folder of
 * `@datadog/native-appsec` (the WAF) is missing afterwards, so an image without a loadable WAF
 * cannot be built.
 */
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

const PLATFORM_FOLDER = /^(darwin|win32|linux|linuxglibc|linuxmusl|freebsd|android)-/;

/** Folder names of the platform this runs on; both spellings exist among the packages. */
export function keptFolders(arch: string): ReadonlySet<string> {
  return new Set([`linux-${arch}`, `linuxglibc-${arch}`]);
}

/** Every `prebuilds` folder under `root` (node_modules), nested packages included. */
function prebuildFolders(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const path = join(dir, entry.name);
      if (entry.name === "prebuilds") found.push(path);
      else walk(path);
    }
  };
  walk(root);
  return found;
}

/** Removes the other platforms' folders; returns the removed paths. */
export function prune(root: string, arch: string): string[] {
  const keep = keptFolders(arch);
  const removed: string[] = [];
  for (const folder of prebuildFolders(root)) {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      if (!statSync(path).isDirectory() || !PLATFORM_FOLDER.test(name) || keep.has(name)) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    }
  }
  return removed;
}

if (import.meta.main) {
  const root = process.argv[2] ?? "node_modules";
  const removed = prune(root, process.arch);
  console.log(`prune-prebuilds: removed ${removed.length} folders of other platforms`);
  const waf = join(root, "@datadog/native-appsec/prebuilds", `linuxglibc-${process.arch}`);
  if (!existsSync(waf)) {
    console.error(`prune-prebuilds: ${waf} is missing: the WAF has no binary for this platform`);
    process.exit(1);
  }
}
