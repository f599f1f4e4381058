/**
 * The chart's pods pass the Pod Security Standards "restricted" profile, with the default values
 * and every chart/ci scenario. The checker (support/pod-security.ts) is tested first: each
 * control, broken alone on a compliant pod, is reported, and nothing else is.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ciValuesFiles, HELMS, render } from "./support/helm.ts";
import { type PodTemplate, restrictedViolations } from "./support/pod-security.ts";

/** A pod that passes the restricted profile. */
function compliant(): PodTemplate {
  return {
    metadata: { annotations: {} },
    spec: {
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 65532,
        seccompProfile: { type: "RuntimeDefault" },
      },
      volumes: [
        { name: "tmp", emptyDir: {} },
        { name: "tls", secret: { secretName: "x" } },
      ],
      containers: [
        {
          name: "app",
          ports: [{}],
          securityContext: {
            allowPrivilegeEscalation: false,
            capabilities: { drop: ["ALL"] },
          },
        },
      ],
    },
  };
}

type Mutation = (pod: PodTemplate) => void;
const container = (pod: PodTemplate) => {
  const first = pod.spec.containers[0];
  assert.ok(first);
  first.securityContext ??= {};
  return first;
};

/** One broken control per case, and the violation it must produce. */
const BROKEN: Array<[string, Mutation, RegExp]> = [
  ["hostNetwork", (p) => (p.spec.hostNetwork = true), /hostNetwork/],
  ["hostPID", (p) => (p.spec.hostPID = true), /hostPID/],
  ["hostIPC", (p) => (p.spec.hostIPC = true), /hostIPC/],
  ["a host port", (p) => (container(p).ports = [{ hostPort: 8080 }]), /hostPort/],
  [
    "a hostPath volume",
    (p) => p.spec.volumes?.push({ name: "h", hostPath: { path: "/" } }),
    /hostPath volumes are forbidden/,
  ],
  [
    "an nfs volume",
    (p) => p.spec.volumes?.push({ name: "n", nfs: { server: "s", path: "/" } }),
    /nfs volumes are not allowed/,
  ],
  [
    "a HostProcess container",
    (p) =>
      (container(p).securityContext = {
        ...container(p).securityContext,
        windowsOptions: { hostProcess: true },
      }),
    /hostProcess/,
  ],
  [
    "a privileged container",
    (p) => ((container(p).securityContext ?? {}).privileged = true),
    /privileged/,
  ],
  [
    "an unmasked /proc",
    (p) => ((container(p).securityContext ?? {}).procMount = "Unmasked"),
    /procMount/,
  ],
  [
    "an SELinux type",
    (p) => ((container(p).securityContext ?? {}).seLinuxOptions = { type: "spc_t" }),
    /seLinuxOptions.type/,
  ],
  [
    "an SELinux user",
    (p) => ((container(p).securityContext ?? {}).seLinuxOptions = { user: "root" }),
    /seLinuxOptions.user/,
  ],
  [
    "an unconfined AppArmor profile",
    (p) => ((container(p).securityContext ?? {}).appArmorProfile = { type: "Unconfined" }),
    /appArmorProfile/,
  ],
  [
    "an unconfined AppArmor annotation",
    (p) => {
      p.metadata = {
        annotations: { "container.apparmor.security.beta.kubernetes.io/app": "unconfined" },
      };
    },
    /AppArmor profile unconfined/,
  ],
  [
    "an unsafe sysctl",
    (p) => ((p.spec.securityContext ?? {}).sysctls = [{ name: "kernel.msgmax" }]),
    /kernel.msgmax is unsafe/,
  ],
  [
    "UID 0 on the pod",
    (p) => ((p.spec.securityContext ?? {}).runAsUser = 0),
    /spec.securityContext.runAsUser/,
  ],
  [
    "UID 0 in a container",
    (p) => ((container(p).securityContext ?? {}).runAsUser = 0),
    /containers\[app\].securityContext.runAsUser/,
  ],
  [
    "an unconfined seccomp profile",
    (p) => ((container(p).securityContext ?? {}).seccompProfile = { type: "Unconfined" }),
    /seccompProfile.type/,
  ],
  [
    "no seccomp profile",
    (p) => delete p.spec.securityContext?.seccompProfile,
    /seccompProfile must be set/,
  ],
  [
    "privilege escalation left unset",
    (p) => delete container(p).securityContext?.allowPrivilegeEscalation,
    /allowPrivilegeEscalation/,
  ],
  [
    "privilege escalation allowed",
    (p) => ((container(p).securityContext ?? {}).allowPrivilegeEscalation = true),
    /allowPrivilegeEscalation/,
  ],
  [
    "capabilities not dropped",
    (p) => ((container(p).securityContext ?? {}).capabilities = { drop: ["NET_RAW"] }),
    /drop must include ALL/,
  ],
  [
    "a capability outside baseline",
    (p) =>
      ((container(p).securityContext ?? {}).capabilities = { drop: ["ALL"], add: ["SYS_ADMIN"] }),
    /SYS_ADMIN is not allowed \(baseline\)/,
  ],
  [
    "a baseline capability other than NET_BIND_SERVICE",
    (p) => ((container(p).securityContext ?? {}).capabilities = { drop: ["ALL"], add: ["CHOWN"] }),
    /only NET_BIND_SERVICE/,
  ],
  [
    "no runAsNonRoot",
    (p) => delete p.spec.securityContext?.runAsNonRoot,
    /runAsNonRoot must be true/,
  ],
  [
    "a container that opts out of runAsNonRoot",
    (p) => ((container(p).securityContext ?? {}).runAsNonRoot = false),
    /runAsNonRoot must be true/,
  ],
  [
    "an init container without the container controls",
    (p) => (p.spec.initContainers = [{ name: "init" }]),
    /initContainers\[init\].securityContext.allowPrivilegeEscalation/,
  ],
];

describe("the restricted-profile checker (self-test)", () => {
  test("a compliant pod has no violation", () => {
    assert.deepEqual(restrictedViolations(compliant()), []);
  });
  test("NET_BIND_SERVICE may be added; per-container seccomp and runAsNonRoot are enough", () => {
    const pod = compliant();
    pod.spec.securityContext = {};
    container(pod).securityContext = {
      allowPrivilegeEscalation: false,
      runAsNonRoot: true,
      seccompProfile: { type: "Localhost" },
      capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] },
    };
    assert.deepEqual(restrictedViolations(pod), []);
  });
  for (const [name, mutate, expected] of BROKEN) {
    test(`reports ${name}`, () => {
      const pod = compliant();
      mutate(pod);
      const violations = restrictedViolations(pod);
      assert.ok(
        violations.some((violation) => expected.test(violation)),
        `${expected} not in ${JSON.stringify(violations)}`,
      );
    });
  }
});

describe("the chart's pods pass the restricted profile", () => {
  for (const values of [undefined, ...ciValuesFiles()]) {
    for (const helm of HELMS) {
      test(`${values ?? "default values"} (${helm})`, async () => {
        const objects = await render(helm, values);
        const workloads = objects.filter((obj) => obj.kind === "Deployment");
        assert.equal(workloads.length, 1);
        for (const workload of workloads) {
          const template = (workload.spec as { template: PodTemplate }).template;
          assert.deepEqual(restrictedViolations(template), []);
        }
      });
    }
  }
  test("control: a chart value that breaks the profile is caught in the rendered pod", async () => {
    const objects = await render("helm4", undefined, undefined, {
      "securityContext.allowPrivilegeEscalation": "true",
      "podSecurityContext.runAsUser": "0",
    });
    const deployment = objects.find((obj) => obj.kind === "Deployment");
    assert.ok(deployment);
    const template = (deployment.spec as { template: PodTemplate }).template;
    const violations = restrictedViolations(template);
    assert.ok(violations.some((v) => /allowPrivilegeEscalation/.test(v)));
    assert.ok(violations.some((v) => /runAsUser must not be 0/.test(v)));
  });
});
