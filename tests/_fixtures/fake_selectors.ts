// Label and field selectors as kube-apiserver parses and applies them (apimachinery
// `labels.Parse` and `fields.ParseSelector`), for list, watch and deletecollection in the fake.
// A selector that does not parse, or names an unsupported field, is a 400 BadRequest.

import * as statuses from "./fake_statuses.ts";
import type { Json } from "./fake_statuses.ts";

/** A compiled selector: does this object match? */
export type Predicate = (object: Json) => boolean;

type LabelOp = "=" | "!=" | "in" | "notin" | "exists" | "!" | "gt" | "lt";

interface LabelRequirement {
  key: string;
  op: LabelOp;
  values: string[];
}

const SPECIAL = new Set(["!", "=", "(", ")", ",", ">", "<"]);
const QUALIFIED_NAME =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

// The tokens of the label selector language: identifiers and the operators among SPECIAL.
function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] ?? "";
    if (/\s/.test(c)) {
      i++;
    } else if (SPECIAL.has(c)) {
      const two = text.slice(i, i + 2);
      if (two === "!=" || two === "==") {
        tokens.push(two);
        i += 2;
      } else {
        tokens.push(c);
        i++;
      }
    } else {
      let j = i;
      while (j < text.length && !/\s/.test(text[j] ?? "") && !SPECIAL.has(text[j] ?? "")) j++;
      tokens.push(text.slice(i, j));
      i = j;
    }
  }
  return tokens;
}

function parseError(detail: string): statuses.ApiError {
  return statuses.badRequest(`unable to parse requirement: ${detail}`);
}

function isIdentifier(token: string | undefined): token is string {
  return token !== undefined && !SPECIAL.has(token) && token !== "!=" && token !== "==";
}

function checkKey(key: string): string {
  if (!QUALIFIED_NAME.test(key) || key.length > 317) {
    throw parseError(
      `key: Invalid value: ${
        JSON.stringify(key)
      }: name part must consist of alphanumeric characters, '-', '_' or '.'`,
    );
  }
  return key;
}

function checkValue(value: string): string {
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    throw parseError(
      `values[0]: Invalid value: ${
        JSON.stringify(value)
      }: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.'`,
    );
  }
  return value;
}

function parseLabelRequirements(text: string): LabelRequirement[] {
  const tokens = tokenize(text);
  const requirements: LabelRequirement[] = [];
  let i = 0;
  while (i < tokens.length) {
    let token = tokens[i++];
    if (token === "!") {
      token = tokens[i++];
      if (!isIdentifier(token)) throw parseError(`found '${token ?? ""}', expected: identifier`);
      requirements.push({ key: checkKey(token), op: "!", values: [] });
    } else if (isIdentifier(token)) {
      const key = checkKey(token);
      const op = tokens[i];
      if (op === undefined || op === ",") {
        requirements.push({ key, op: "exists", values: [] });
      } else if (op === "=" || op === "==" || op === "!=") {
        i++;
        let value = "";
        if (isIdentifier(tokens[i])) value = tokens[i++] ?? "";
        requirements.push({ key, op: op === "!=" ? "!=" : "=", values: [checkValue(value)] });
      } else if (op === "in" || op === "notin") {
        i++;
        if (tokens[i++] !== "(") throw parseError(`found '${tokens[i - 1] ?? ""}', expected: '('`);
        const values: string[] = [];
        while (true) {
          const next = tokens[i];
          if (next === ")") {
            i++;
            break;
          }
          if (next === ",") {
            i++;
            if (tokens[i] === "," || tokens[i] === ")") values.push("");
            continue;
          }
          if (!isIdentifier(next)) {
            throw parseError(`found '${next ?? ""}', expected: ',', ')' or identifier`);
          }
          values.push(checkValue(next));
          i++;
        }
        requirements.push({ key, op, values });
      } else if (op === ">" || op === "<") {
        i++;
        const value = tokens[i++] ?? "";
        if (!/^-?\d+$/.test(value)) {
          throw parseError(`for 'Gt', 'Lt' operators, the value must be an integer`);
        }
        requirements.push({ key, op: op === ">" ? "gt" : "lt", values: [value] });
      } else {
        throw parseError(`found '${op}', expected: '=', '!=', '==', 'in', notin'`);
      }
    } else {
      throw parseError(`found '${token ?? ""}', expected: !, identifier, or 'end of string'`);
    }
    if (i < tokens.length) {
      if (tokens[i] !== ",") {
        throw parseError(`found '${tokens[i]}', expected: ',' or 'end of string'`);
      }
      i++;
    }
  }
  return requirements;
}

function labelsOf(object: Json): Record<string, unknown> {
  const metadata = object.metadata as Json | undefined;
  return (metadata?.labels as Record<string, unknown> | undefined) ?? {};
}

function matchesLabel(labels: Record<string, unknown>, r: LabelRequirement): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = has ? String(labels[r.key]) : undefined;
  switch (r.op) {
    case "=":
    case "in":
      return has && r.values.includes(value ?? "");
    case "!=":
    case "notin":
      return !has || !r.values.includes(value ?? "");
    case "exists":
      return has;
    case "!":
      return !has;
    case "gt":
    case "lt": {
      if (!has || !/^-?\d+$/.test(value ?? "")) return false;
      const n = Number(value);
      const limit = Number(r.values[0]);
      return r.op === "gt" ? n > limit : n < limit;
    }
  }
}

/** A label selector: `a=b,c!=d,e in (f,g),h notin (i),j,!k,l>1`. Empty matches everything. */
export function labelSelector(text: string): Predicate {
  const requirements = parseLabelRequirements(text);
  return (object) => {
    const labels = labelsOf(object);
    return requirements.every((r) => matchesLabel(labels, r));
  };
}

interface FieldRequirement {
  field: string;
  value: string;
  negate: boolean;
}

// Splits on a separator that is not escaped by a backslash.
function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? "";
    if (c === "\\" && i + 1 < text.length) {
      current += c + (text[i + 1] ?? "");
      i++;
    } else if (c === separator) {
      parts.push(current);
      current = "";
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

function unescapeFieldValue(text: string): string {
  return text.replace(/\\(.)/g, "$1");
}

function parseFieldTerm(term: string): FieldRequirement {
  for (let i = 0; i < term.length; i++) {
    if (term[i] === "\\") {
      i++;
      continue;
    }
    for (const op of ["!=", "==", "="]) {
      if (term.startsWith(op, i)) {
        return {
          field: term.slice(0, i),
          value: unescapeFieldValue(term.slice(i + op.length)),
          negate: op === "!=",
        };
      }
    }
  }
  throw statuses.badRequest(`invalid selector: '${term}'; can't understand '${term}'`);
}

function fieldValue(object: Json, path: string): string {
  let value: unknown = object;
  for (const part of path.split(".")) {
    value = value !== null && typeof value === "object" ? (value as Json)[part] : undefined;
  }
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : String(value);
}

/** A field selector over the given supported fields: `metadata.name=x,metadata.namespace!=y`. */
export function fieldSelector(text: string, supported: readonly string[]): Predicate {
  if (text.trim() === "") return () => true;
  const requirements = splitUnescaped(text, ",").map((term) => parseFieldTerm(term.trim()));
  for (const r of requirements) {
    if (!supported.includes(r.field)) {
      throw statuses.badRequest(`field label not supported: ${r.field}`);
    }
  }
  return (object) =>
    requirements.every((r) => (fieldValue(object, r.field) === r.value) !== r.negate);
}
