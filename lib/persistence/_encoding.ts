// JSON text exactly as Kopf writes it into annotations and status: Python's
// `json.dumps(value, separators=(",", ":"))`, which escapes every non-ASCII character and
// spells floats as Python does. Used by the storages; parsing is plain `JSON.parse`.

/**
 * Compact JSON as Python's `json.dumps` with Kopf's separators writes it: no spaces, `\uXXXX`
 * for everything outside printable ASCII (DEL included), and floats as Python's `repr` spells
 * them (`1e-05`, `1e+16`). Integers are written in full. Key order is the objects' own.
 */
export function encode(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return encodeNumber(value);
  if (typeof value === "string") return encodeString(value);
  if (Array.isArray(value)) return `[${value.map(encode).join(",")}]`;
  if (typeof value === "object") {
    const members = Object.entries(value)
      .filter(([, item]) => item !== undefined)
      .map(([key, item]) => `${encodeString(key)}:${encode(item)}`);
    return `{${members.join(",")}}`;
  }
  throw new TypeError(`Cannot encode a ${typeof value} as JSON`);
}

const ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\b": "\\b",
  "\f": "\\f",
};

function encodeString(text: string): string {
  // Outside space..tilde, Python escapes each UTF-16 unit (so astral characters as pairs).
  const escaped = text.replace(/[^ -~]|["\\]/g, (char) => {
    return ESCAPES[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
  return `"${escaped}"`;
}

function encodeNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
  // JSON parsing cannot tell 1.0 from 1, so whole numbers are written as Python ints.
  if (Number.isInteger(value)) return BigInt(value).toString();
  // Python's float repr: the shortest round-trip digits, in positional notation for
  // exponents from -4 to 15, scientific (with at least two exponent digits) otherwise.
  const [mantissa = "", exp = "0"] = value.toExponential().split("e");
  const exponent = Number(exp);
  if (exponent < -4 || exponent >= 16) {
    const sign = exponent < 0 ? "-" : "+";
    return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  const negative = mantissa.startsWith("-");
  const digits = mantissa.replace("-", "").replace(".", "");
  const point = exponent + 1;
  let text: string;
  if (point <= 0) text = `0.${"0".repeat(-point)}${digits}`;
  else if (point >= digits.length) text = `${digits}${"0".repeat(point - digits.length)}.0`;
  else text = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return negative ? `-${text}` : text;
}
