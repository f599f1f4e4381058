/**
 * EBCDIC code pages (IBM037, IBM500, IBM1140). Backends that decode a body in the declared charset
 * (Java servlets, ASP.NET, Python) read `charset=ibm037` bytes as text, while a UTF-8 reading sees
 * bytes that spell nothing: a known WAF bypass. WHATWG's TextDecoder has no EBCDIC, hence tables.
 */

/** IBM037 (EBCDIC US/Canada), byte → character, 16 bytes per row. */
const IBM037 = codes(
  [
    "\u0000\u0001\u0002\u0003\u009c\u0009\u0086\u007f\u0097\u008d\u008e\u000b\u000c\u000d\u000e\u000f",
    "\u0010\u0011\u0012\u0013\u009d\u0085\u0008\u0087\u0018\u0019\u0092\u008f\u001c\u001d\u001e\u001f",
    "\u0080\u0081\u0082\u0083\u0084\u000a\u0017\u001b\u0088\u0089\u008a\u008b\u008c\u0005\u0006\u0007",
    "\u0090\u0091\u0016\u0093\u0094\u0095\u0096\u0004\u0098\u0099\u009a\u009b\u0014\u0015\u009e\u001a",
    " \u00a0\u00e2\u00e4\u00e0\u00e1\u00e3\u00e5\u00e7\u00f1\u00a2.<(+|",
    "&\u00e9\u00ea\u00eb\u00e8\u00ed\u00ee\u00ef\u00ec\u00df!$*);\u00ac",
    "-/\u00c2\u00c4\u00c0\u00c1\u00c3\u00c5\u00c7\u00d1\u00a6,%_>?",
    "\u00f8\u00c9\u00ca\u00cb\u00c8\u00cd\u00ce\u00cf\u00cc`:#@'=\u0022",
    "\u00d8abcdefghi\u00ab\u00bb\u00f0\u00fd\u00fe\u00b1",
    "\u00b0jklmnopqr\u00aa\u00ba\u00e6\u00b8\u00c6\u00a4",
    "\u00b5~stuvwxyz\u00a1\u00bf\u00d0\u00dd\u00de\u00ae",
    "^\u00a3\u00a5\u00b7\u00a9\u00a7\u00b6\u00bc\u00bd\u00be[]\u00af\u00a8\u00b4\u00d7",
    "{ABCDEFGHI\u00ad\u00f4\u00f6\u00f2\u00f3\u00f5",
    "}JKLMNOPQR\u00b9\u00fb\u00fc\u00f9\u00fa\u00ff",
    "\u005c\u00f7STUVWXYZ\u00b2\u00d4\u00d6\u00d2\u00d3\u00d5",
    "0123456789\u00b3\u00db\u00dc\u00d9\u00da\u009f",
  ].join(""),
);

/** IBM500 (EBCDIC International) differs from IBM037 in seven punctuation positions. */
const IBM500 = patch(IBM037, [
  [0x4a, "["],
  [0x4f, "!"],
  [0x5a, "]"],
  [0x5f, "^"],
  [0xb0, "\u00a2"],
  [0xba, "\u00ac"],
  [0xbb, "|"],
]);

/** IBM1140 is IBM037 with the euro sign in place of the currency sign. */
const IBM1140 = patch(IBM037, [[0x9f, "\u20ac"]]);

const PAGES: Record<string, Uint16Array> = {
  ibm037: IBM037,
  cp037: IBM037,
  csibm037: IBM037,
  ebcdiccpus: IBM037,
  ebcdiccpca: IBM037,
  ebcdiccpnl: IBM037,
  ebcdiccpwt: IBM037,
  ibm500: IBM500,
  cp500: IBM500,
  csibm500: IBM500,
  ebcdiccpbe: IBM500,
  ebcdiccpch: IBM500,
  ibm1140: IBM1140,
  ibm01140: IBM1140,
  cp1140: IBM1140,
  ccsid01140: IBM1140,
};

function patch(table: Uint16Array, changes: Array<[number, string]>): Uint16Array {
  const out = table.slice();
  for (const [at, char] of changes) out[at] = char.charCodeAt(0);
  return out;
}

function codes(table: string): Uint16Array {
  return Uint16Array.from(table, (char) => char.charCodeAt(0));
}

/** The EBCDIC table for a charset label (case, `-`, `_` ignored), if the label names one. */
export function ebcdicTable(label: string): Uint16Array | undefined {
  const key = label.toLowerCase().replace(/[-_\s]/g, "");
  return Object.hasOwn(PAGES, key) ? PAGES[key] : undefined;
}

/** Decodes single-byte EBCDIC with `table` (from {@link ebcdicTable}). */
export function decodeEbcdic(bytes: Uint8Array, table: Uint16Array): string {
  const units = new Uint16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) units[i] = table[bytes[i] as number] as number;
  return fromCodeUnits(units);
}

/** A string from UTF-16 code units, in slices small enough for the argument list. */
export function fromCodeUnits(units: Uint16Array): string {
  let out = "";
  for (let i = 0; i < units.length; i += 8192) {
    out += String.fromCharCode(...units.subarray(i, i + 8192));
  }
  return out;
}
