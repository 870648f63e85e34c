/**
 * Checking the values of Gage file attributes, for every module that reads
 * some (op definitions, dependencies): one wording for every type error.
 */
import { RunstageError } from "../errors.ts";

export type Table = Record<string, unknown>;

export function isTable(value: unknown): value is Table {
  return value !== null && typeof value === "object" && !Array.isArray(value) &&
    !(value instanceof Date);
}

export function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

/** A value's type in the words of a Gage file: table, list, string, number... */
export function typeName(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return "list";
  if (value instanceof Date) return "date";
  if (typeof value === "object") return "table";
  return typeof value;
}

/** What a wrong value was, precisely enough to find it: "list with a number item". */
export function describeValue(value: unknown): string {
  if (value === "") return "empty string";
  if (Array.isArray(value)) {
    if (value.length === 0) return "empty list";
    const odd = value.findIndex((item) => typeof item !== "string");
    if (odd >= 0) return `list with a ${typeName(value[odd])} item`;
  }
  return typeName(value);
}

/** `<where>: attribute "<attr>" must be <expected> (got <what it was>)`. */
export function attributeError(where: string, attr: string, expected: string, value: unknown) {
  return new RunstageError(
    `${where}: attribute "${attr}" must be ${expected} (got ${describeValue(value)})`,
  );
}

export function readOptionalString(
  where: string,
  attr: string,
  value: unknown,
): string | undefined {
  if (value === undefined || typeof value === "string") return value;
  throw attributeError(where, attr, "a string", value);
}

/** true or false; absent is false. */
export function readFlag(where: string, attr: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value === "boolean") return value;
  throw attributeError(where, attr, "true or false", value);
}
