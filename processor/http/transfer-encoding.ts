/**
 * Part-level `Content-Transfer-Encoding` (RFC 2045 §6) of multipart fields. Browsers never send it,
 * but mail-derived parsers (Python's `email`, Apache Commons FileUpload since 1.3, .NET) decode it,
 * so a base64 or quoted-printable field hides its payload from a reader that does not.
 */
import { hexValue } from "./percent.ts";

/**
 * Decodes `bytes` per the transfer `encoding` (`base64`, `quoted-printable`; anything else, such as
 * `7bit`, `8bit` or `binary`, is identity). The output is never longer than the input.
 */
export function decodeTransfer(bytes: Uint8Array, encoding: string | undefined): Uint8Array {
  switch (encoding?.trim().toLowerCase()) {
    case "base64":
      // Node's base64 decoder skips whitespace and line breaks, and stops at the first `=` pad.
      return Buffer.from(Buffer.from(bytes).toString("latin1"), "base64");
    case "quoted-printable":
      return decodeQuotedPrintable(bytes);
    default:
      return bytes;
  }
}

/** `=XX` is a byte, `=` before a line break is a soft break (removed); a bad `=` stays. */
function decodeQuotedPrintable(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  let j = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if (byte !== 0x3d) {
      out[j++] = byte;
      continue;
    }
    const soft = softBreakLength(bytes, i + 1);
    const hex = soft === 0 ? hexPair(bytes[i + 1], bytes[i + 2]) : -1;
    if (soft > 0) i += soft;
    else if (hex >= 0) {
      out[j++] = hex;
      i += 2;
    } else out[j++] = byte;
  }
  return out.subarray(0, j);
}

/** Length of the line break (CRLF or LF, after optional trailing spaces) at `at`, else 0. */
function softBreakLength(bytes: Uint8Array, at: number): number {
  let i = at;
  while (bytes[i] === 0x20 || bytes[i] === 0x09) i++;
  if (bytes[i] === 0x0d && bytes[i + 1] === 0x0a) return i + 2 - at;
  if (bytes[i] === 0x0a) return i + 1 - at;
  return 0;
}

function hexPair(hi: number | undefined, lo: number | undefined): number {
  const h = hexValue(hi);
  const l = hexValue(lo);
  return h >= 0 && l >= 0 ? h * 16 + l : -1;
}
