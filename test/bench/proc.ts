/**
 * What the bench reads about a server from Linux's /proc: the process tree under a PID (the
 * processor runs worker processes), its CPU time and resident memory, the PID listening on a TCP
 * port, and CPU pinning with taskset.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

function getconf(name: string, fallback: number): number {
  try {
    const value = Number(execFileSync("getconf", [name], { encoding: "utf8" }).trim());
    return Number.isFinite(value) && value > 0 ? value : fallback;
  } catch {
    return fallback;
  }
}

/** Clock ticks per second of /proc/PID/stat times. */
const CLOCK_TICKS = getconf("CLK_TCK", 100);

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  const stat = read(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

function pids(): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** `pid` and all its descendants that are alive now. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const candidate of pids()) {
    const parent = Number(statFields(candidate)?.[1]);
    if (!Number.isFinite(parent)) continue;
    const siblings = children.get(parent) ?? [];
    siblings.push(candidate);
    children.set(parent, siblings);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i] ?? 0) ?? []));
  return tree;
}

/** User + system CPU seconds used so far by `tree` (processes that already exited are missed). */
export function cpuSeconds(tree: readonly number[]): number {
  let ticks = 0;
  for (const pid of tree) {
    const fields = statFields(pid);
    if (fields === undefined) continue;
    // utime and stime are fields 14 and 15 of stat; fields[0] here is field 3 (state).
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / CLOCK_TICKS;
}

/** Resident memory of `tree` in bytes (VmRSS summed; shared pages count once per process). */
export function rssBytes(tree: readonly number[]): number {
  let kib = 0;
  for (const pid of tree) {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(read(`/proc/${pid}/status`) ?? "");
    if (match) kib += Number(match[1]);
  }
  return kib * 1024;
}

/** Socket inodes listening on TCP `port` (IPv4 and IPv6). */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of (read(table) ?? "").split("\n").slice(1)) {
      const columns = line.trim().split(/\s+/);
      const local = columns[1] ?? "";
      // st 0A is LISTEN; column 9 is the socket inode.
      if (local.endsWith(`:${hexPort}`) && columns[3] === "0A" && columns[9]) {
        inodes.add(columns[9]);
      }
    }
  }
  return inodes;
}

/**
 * The PID of the process listening on TCP `port`: the topmost one when a parent and its workers
 * share the socket. Undefined when none is found (or /proc/PID/fd is not readable).
 */
export function pidListeningOn(port: number): number | undefined {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return undefined;
  const owners: number[] = [];
  for (const pid of pids()) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    const holds = fds.some((fd) => {
      try {
        const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        return link.startsWith("socket:[") && inodes.has(link.slice(8, -1));
      } catch {
        return false;
      }
    });
    if (holds) owners.push(pid);
  }
  const parents = new Map(owners.map((pid) => [pid, Number(statFields(pid)?.[1])]));
  return owners.find((pid) => !owners.includes(parents.get(pid) ?? 0));
}

/** Pins every thread of every process in `tree` to the CPUs in `cpus` (taskset list syntax). */
export function pinTree(tree: readonly number[], cpus: string): void {
  for (const pid of tree) {
    execFileSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore" });
  }
}
