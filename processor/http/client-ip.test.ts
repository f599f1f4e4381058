import assert from "node:assert/strict";
import { test } from "node:test";
import { type ClientIpOptions, clientIpFromHeaders } from "./client-ip.ts";
import { forwardedForValues } from "./forwarded.ts";
import { isPrivateIp, parseIp } from "./ip.ts";

type Case = [string, Record<string, string[]>, ClientIpOptions, string | undefined];

const cases: Case[] = [
  ["nothing", {}, {}, undefined],
  ["single public XFF", { "x-forwarded-for": ["8.8.8.8"] }, {}, "8.8.8.8"],
  [
    "first public in XFF list",
    { "x-forwarded-for": ["10.0.0.1, 8.8.8.8, 1.1.1.1"] },
    {},
    "8.8.8.8",
  ],
  ["private only: first private", { "x-forwarded-for": ["10.0.0.1, 192.168.1.1"] }, {}, "10.0.0.1"],
  [
    "repeated XFF headers scanned in order",
    { "x-forwarded-for": ["10.0.0.1", "9.9.9.9"] },
    {},
    "9.9.9.9",
  ],
  ["XFF entries with ports", { "x-forwarded-for": ["8.8.8.8:1234"] }, {}, "8.8.8.8"],
  ["XFF IPv6 bracketed with port", { "x-forwarded-for": ["[2001:db8::1]:80"] }, {}, "2001:db8::1"],
  ["XFF bare IPv6", { "x-forwarded-for": ["2606:4700::1111"] }, {}, "2606:4700::1111"],
  ["IPv4-mapped collapses", { "x-forwarded-for": ["::ffff:8.8.4.4"] }, {}, "8.8.4.4"],
  [
    "malformed entries skipped",
    { "x-forwarded-for": ["unknown, 999.1.1.1, 8.8.8.8"] },
    {},
    "8.8.8.8",
  ],
  ["all malformed", { "x-forwarded-for": ["nope, , 1.2.3"] }, {}, undefined],
  ["zone id rejected", { "x-forwarded-for": ["fe80::1%eth0"] }, {}, undefined],
  [
    "later header public beats earlier private",
    { "x-forwarded-for": ["10.0.0.1"], "x-real-ip": ["8.8.8.8"] },
    {},
    "8.8.8.8",
  ],
  [
    "earlier header public wins",
    { "x-real-ip": ["1.1.1.1"], "cf-connecting-ip": ["8.8.8.8"] },
    {},
    "1.1.1.1",
  ],
  [
    "loopback and CGNAT are private",
    { "x-forwarded-for": ["127.0.0.1, 100.64.1.1"], "true-client-ip": ["4.4.4.4"] },
    {},
    "4.4.4.4",
  ],
  ["ULA IPv6 is private", { "x-forwarded-for": ["fd00::1"] }, {}, "fd00::1"],
  [
    "forwarded for= values",
    { forwarded: ['for=10.0.0.1;proto=https, for="[2001:db8::2]:4711"'] },
    {},
    "2001:db8::2",
  ],
  [
    "forwarded with unquoted port is dropped",
    { forwarded: ["for=8.8.8.8:80"], "x-cluster-client-ip": ["10.1.1.1"] },
    {},
    "10.1.1.1",
  ],
  ["unlisted header ignored", { "x-custom": ["8.8.8.8"] }, {}, undefined],
  [
    "custom header used",
    { "x-custom": ["8.8.8.8"], "x-forwarded-for": ["1.1.1.1"] },
    { clientIpHeader: "X-Custom" },
    "8.8.8.8",
  ],
  [
    "custom header: defaults ignored",
    { "x-forwarded-for": ["1.1.1.1"] },
    { clientIpHeader: "x-custom" },
    undefined,
  ],
  ["remote fallback ip:port", {}, { remoteAddress: "8.8.8.8:5555" }, "8.8.8.8"],
  ["remote fallback [v6]:port", {}, { remoteAddress: "[2001:db8::9]:443" }, "2001:db8::9"],
  [
    "private remote, public header",
    { "x-forwarded-for": ["8.8.8.8"] },
    { remoteAddress: "10.0.0.2:1" },
    "8.8.8.8",
  ],
  [
    "private remote, private header",
    { "x-forwarded-for": ["192.168.0.9"] },
    { remoteAddress: "10.0.0.2:1" },
    "192.168.0.9",
  ],
  [
    "public remote, private header",
    { "x-forwarded-for": ["192.168.0.9"] },
    { remoteAddress: "1.1.1.1:1" },
    "1.1.1.1",
  ],
  [
    "public remote, public header",
    { "x-forwarded-for": ["8.8.8.8"] },
    { remoteAddress: "1.1.1.1:1" },
    "8.8.8.8",
  ],
  [
    "malformed remote ignored",
    { "x-forwarded-for": ["10.0.0.3"] },
    { remoteAddress: "not-an-ip" },
    "10.0.0.3",
  ],
];

for (const [name, headers, options, expected] of cases) {
  test(`clientIpFromHeaders: ${name}`, () => {
    assert.equal(clientIpFromHeaders(headers, options), expected);
  });
}

const privateCases: Array<[string, boolean]> = [
  ["10.1.2.3", true],
  ["172.16.0.1", true],
  ["172.32.0.1", false],
  ["192.168.255.255", true],
  ["127.0.0.1", true],
  ["169.254.1.1", true],
  ["100.64.0.1", true],
  ["100.128.0.1", false],
  ["8.8.8.8", false],
  ["::1", true],
  ["fc00::1", true],
  ["fe80::1", true],
  ["fec0::1", true],
  ["2001:db8::1", false],
  ["::ffff:10.0.0.1", true],
  ["not an ip", false],
];

for (const [ip, expected] of privateCases) {
  test(`isPrivateIp(${ip}) is ${expected}`, () => {
    assert.equal(isPrivateIp(ip), expected);
  });
}

const parseCases: Array<[string, string | undefined]> = [
  ["1.2.3.4", "1.2.3.4"],
  [" 1.2.3.4 ", "1.2.3.4"],
  ["1.2.3.4:80", "1.2.3.4"],
  ["1.2.3.4:", undefined],
  ["1.2.3.4:http", undefined],
  ["[::1]", "::1"],
  ["[::1]:8080", "::1"],
  ["[1.2.3.4]:80", undefined],
  ["::FFFF:0102:0304", "1.2.3.4"],
  ["2001:DB8::1", "2001:db8::1"],
  ["[::1", undefined],
  ["", undefined],
];

for (const [input, expected] of parseCases) {
  test(`parseIp(${JSON.stringify(input)})`, () => {
    assert.equal(parseIp(input), expected);
  });
}

const forwardedCases: Array<[string, string[] | undefined]> = [
  ["for=1.2.3.4", ["1.2.3.4"]],
  ["For=1.2.3.4;by=5.6.7.8, for=9.9.9.9", ["1.2.3.4", "9.9.9.9"]],
  ['for="[2001:db8::1]:4711"', ["[2001:db8::1]:4711"]],
  ['for="1.2.3.4:80"', ["1.2.3.4:80"]],
  ["for=1.2.3.4:80", undefined],
  ["for=[::1]", undefined],
  ['for="unterminated', undefined],
  ["garbage", undefined],
  ["for=_hidden;proto=http", ["_hidden"]],
];

for (const [header, expected] of forwardedCases) {
  test(`forwardedForValues(${JSON.stringify(header)})`, () => {
    assert.deepEqual(forwardedForValues(header), expected);
  });
}

test("forwardedForValues is linear on a long hostile header", () => {
  const header = "for=1.1.1.1;".repeat(20_000);
  const started = performance.now();
  assert.equal(forwardedForValues(header)?.length, 20_000);
  assert.ok(performance.now() - started < 1000);
});
