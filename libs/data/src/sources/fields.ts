import type { DataRow, InvalidRow } from './row';
import { invalidRow, rowError } from './row';

/** Expected JSON type of a field. `integer` is a number with no fraction; `any` only requires presence. */
export type FieldType = 'string' | 'number' | 'integer' | 'boolean' | 'array' | 'object' | 'any';

/** Field name → expected type; a `?` suffix on the type (`'string?'`) makes the field optional. */
export type FieldSpec = Record<string, FieldType | `${FieldType}?`>;

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (ArrayBuffer.isView(value)) return 'array';
  if (typeof value === 'number' && Number.isInteger(value)) return 'integer';
  return typeof value;
}

function matches(value: unknown, type: FieldType): boolean {
  switch (type) {
    case 'any':
      return true;
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'array':
      return Array.isArray(value) || ArrayBuffer.isView(value);
    case 'object':
      return (
        typeof value === 'object' &&
        value !== null &&
        !Array.isArray(value) &&
        !ArrayBuffer.isView(value)
      );
    default:
      return typeof value === type;
  }
}

/**
 * Checks `row.data` against `spec`: null for a good row, else an invalid-row
 * record (`missing_field` / `wrong_type`) whose error names the source,
 * line or row, and the field.
 */
export function checkFields(row: DataRow, spec: FieldSpec): InvalidRow | null {
  for (const [field, declared] of Object.entries(spec)) {
    const optional = declared.endsWith('?');
    const type = (optional ? declared.slice(0, -1) : declared) as FieldType;
    const value = row.data[field];
    if (value === undefined || value === null) {
      if (optional) continue;
      const have = Object.keys(row.data).join(', ') || 'none';
      return invalidRow(
        'missing_field',
        rowError(row, `missing (expected ${type}; fields present: ${have})`, field),
      );
    }
    if (!matches(value, type)) {
      return invalidRow(
        'wrong_type',
        rowError(row, `expected ${type}, got ${typeName(value)}`, field),
      );
    }
  }
  return null;
}
