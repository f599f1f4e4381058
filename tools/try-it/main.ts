/**
 * `npm run demo [-- [--block-all] [--tls] [UPSTREAM_URL]]`: the try-it gateway on
 * http://127.0.0.1:$PORT (default 8080). See tools/try-it/README.md.
 */
import { parseArgs } from "node:util";
import { startGateway } from "./gateway.ts";

const USAGE = `usage: npm run demo -- [--block-all] [--tls] [UPSTREAM_URL]

  --block-all   every detection of the recommended ruleset blocks (also AAP_DEMO_BLOCK_ALL=1)
  --tls         gRPC over TLS between the gateway and the processor
  UPSTREAM_URL  proxy allowed requests there instead of the built-in echo backend
  PORT          listening port on 127.0.0.1 (default 8080)
  DD_*          passed to the processor (e.g. DD_APPSEC_RULES=./my-rules.json)
`;

const { values, positionals } = parseArgs({
  options: {
    "block-all": { type: "boolean", default: false },
    tls: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
  allowPositionals: true,
});
if (values.help || positionals.length > 1) {
  process.stdout.write(USAGE);
  process.exit(values.help ? 0 : 2);
}

const processorEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    (entry): entry is [string, string] => entry[0].startsWith("DD_") && entry[1] !== undefined,
  ),
);
const blockAll = values["block-all"] || process.env.AAP_DEMO_BLOCK_ALL === "1";
const gateway = await startGateway({
  port: Number(process.env.PORT ?? "8080"),
  blockAll,
  tls: values.tls,
  processorEnv,
  ...(positionals[0] ? { upstreamUrl: positionals[0] } : {}),
});
process.stderr.write(
  `${JSON.stringify({
    msg: "gateway listening",
    url: gateway.url,
    port: gateway.port,
    backend: positionals[0] ?? "echo",
    blockAll,
    rules: gateway.rulesFile ?? processorEnv.DD_APPSEC_RULES ?? "recommended",
    note: "try-it tool, not a production proxy",
  })}\n`,
);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    void gateway.close().then(() => process.exit(0));
  });
}
