/**
 * A checker for the Kubernetes Pod Security Standards "restricted" profile (which includes
 * "baseline"), as the PodSecurity admission controller applies it at version "latest": every
 * control of https://kubernetes.io/docs/concepts/security/pod-security-standards/, on a pod
 * template's metadata and spec. It returns one sentence per violation, naming the field.
 */

/** The parts of a container the profile looks at. */
interface Container {
  name: string;
  ports?: Array<{ hostPort?: number }>;
  securityContext?: SecurityContext;
}

interface SecurityContext {
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  runAsNonRoot?: boolean;
  runAsUser?: number;
  procMount?: string;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type?: string };
  appArmorProfile?: { type?: string };
  seLinuxOptions?: { type?: string; user?: string; role?: string };
  windowsOptions?: { hostProcess?: boolean };
  sysctls?: Array<{ name: string }>;
}

/** A pod template: metadata (annotations) and spec. */
export interface PodTemplate {
  metadata?: { annotations?: Record<string, string> };
  spec: {
    hostNetwork?: boolean;
    hostPID?: boolean;
    hostIPC?: boolean;
    securityContext?: SecurityContext;
    volumes?: Array<Record<string, unknown> & { name: string }>;
    containers: Container[];
    initContainers?: Container[];
    ephemeralContainers?: Container[];
  };
}

/** Capabilities baseline allows adding (restricted then allows only NET_BIND_SERVICE). */
const BASELINE_CAPABILITIES = new Set([
  "AUDIT_WRITE",
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "MKNOD",
  "NET_BIND_SERVICE",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYS_CHROOT",
]);

/** Sysctls baseline allows (namespaced and safe). */
const SAFE_SYSCTLS = new Set([
  "kernel.shm_rmid_forced",
  "net.ipv4.ip_local_port_range",
  "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.tcp_syncookies",
  "net.ipv4.ping_group_range",
  "net.ipv4.ip_local_reserved_ports",
  "net.ipv4.tcp_keepalive_time",
  "net.ipv4.tcp_fin_timeout",
  "net.ipv4.tcp_keepalive_intvl",
  "net.ipv4.tcp_keepalive_probes",
]);

/** SELinux types baseline allows ("" means unset). */
const SELINUX_TYPES = new Set([
  "",
  "container_t",
  "container_init_t",
  "container_kvm_t",
  "container_engine_t",
]);

/** Volume sources restricted allows. */
const RESTRICTED_VOLUMES = new Set([
  "configMap",
  "csi",
  "downwardAPI",
  "emptyDir",
  "ephemeral",
  "persistentVolumeClaim",
  "projected",
  "secret",
]);

/** Every violation of the restricted profile in `pod`; empty when it passes. */
export function restrictedViolations(pod: PodTemplate): string[] {
  const spec = pod.spec;
  const podContext = spec.securityContext ?? {};
  const containers = [
    ...spec.containers.map((c) => ({ c, where: `containers[${c.name}]` })),
    ...(spec.initContainers ?? []).map((c) => ({ c, where: `initContainers[${c.name}]` })),
    ...(spec.ephemeralContainers ?? []).map((c) => ({
      c,
      where: `ephemeralContainers[${c.name}]`,
    })),
  ];
  const found: string[] = [];
  const contexts = [
    { context: podContext, where: "spec.securityContext" },
    ...containers.map(({ c, where }) => ({
      context: c.securityContext ?? {},
      where: `${where}.securityContext`,
    })),
  ];

  // Baseline: host namespaces, host ports, hostPath, HostProcess.
  for (const field of ["hostNetwork", "hostPID", "hostIPC"] as const)
    if (spec[field] === true) found.push(`spec.${field} must not be true`);
  for (const { c, where } of containers)
    for (const port of c.ports ?? [])
      if (port.hostPort !== undefined && port.hostPort !== 0)
        found.push(`${where}.ports.hostPort must be unset or 0`);
  for (const volume of spec.volumes ?? []) {
    const source = Object.keys(volume).find((key) => key !== "name") ?? "";
    if (source === "hostPath") found.push(`volume ${volume.name}: hostPath volumes are forbidden`);
    else if (!RESTRICTED_VOLUMES.has(source))
      found.push(`volume ${volume.name}: ${source} volumes are not allowed (restricted)`);
  }
  for (const { context, where } of contexts) {
    if (context.windowsOptions?.hostProcess === true)
      found.push(`${where}.windowsOptions.hostProcess must not be true`);
    // Baseline: privileged, procMount, SELinux, AppArmor, sysctls.
    if (context.privileged === true) found.push(`${where}.privileged must not be true`);
    if (context.procMount !== undefined && context.procMount !== "Default")
      found.push(`${where}.procMount must be Default`);
    const selinux = context.seLinuxOptions;
    if (selinux !== undefined) {
      if (!SELINUX_TYPES.has(selinux.type ?? ""))
        found.push(`${where}.seLinuxOptions.type ${selinux.type} is not allowed`);
      if (selinux.user) found.push(`${where}.seLinuxOptions.user must be unset`);
      if (selinux.role) found.push(`${where}.seLinuxOptions.role must be unset`);
    }
    const appArmor = context.appArmorProfile?.type;
    if (appArmor !== undefined && appArmor !== "RuntimeDefault" && appArmor !== "Localhost")
      found.push(`${where}.appArmorProfile.type must be RuntimeDefault or Localhost`);
    for (const sysctl of context.sysctls ?? [])
      if (!SAFE_SYSCTLS.has(sysctl.name)) found.push(`${where}.sysctls ${sysctl.name} is unsafe`);
    // Restricted: never run as UID 0, seccomp never Unconfined.
    if (context.runAsUser === 0) found.push(`${where}.runAsUser must not be 0`);
    const seccomp = context.seccompProfile?.type;
    if (seccomp !== undefined && seccomp !== "RuntimeDefault" && seccomp !== "Localhost")
      found.push(`${where}.seccompProfile.type must be RuntimeDefault or Localhost`);
  }
  for (const [key, value] of Object.entries(pod.metadata?.annotations ?? {}))
    if (
      key.startsWith("container.apparmor.security.beta.kubernetes.io/") &&
      value !== "runtime/default" &&
      !value.startsWith("localhost/")
    )
      found.push(`annotation ${key}: AppArmor profile ${value} is not allowed`);

  // Restricted, per container: escalation, capabilities, non-root, seccomp.
  for (const { c, where } of containers) {
    const context = c.securityContext ?? {};
    if (context.allowPrivilegeEscalation !== false)
      found.push(`${where}.securityContext.allowPrivilegeEscalation must be false`);
    if (!(context.capabilities?.drop ?? []).includes("ALL"))
      found.push(`${where}.securityContext.capabilities.drop must include ALL`);
    for (const added of context.capabilities?.add ?? []) {
      if (!BASELINE_CAPABILITIES.has(added))
        found.push(`${where}: capability ${added} is not allowed (baseline)`);
      else if (added !== "NET_BIND_SERVICE")
        found.push(`${where}: only NET_BIND_SERVICE may be added (restricted), not ${added}`);
    }
    const nonRoot = context.runAsNonRoot ?? podContext.runAsNonRoot;
    if (nonRoot !== true)
      found.push(`${where}: runAsNonRoot must be true (on the pod or the container)`);
    if ((context.seccompProfile?.type ?? podContext.seccompProfile?.type) === undefined)
      found.push(`${where}: seccompProfile must be set (on the pod or the container)`);
  }
  return found;
}
