import type { z } from 'zod';
import { isPlainObject } from './plainObject';
import type { KeyPath } from './source';

type Def = { type: string; [key: string]: any };

function defOf(schema: z.ZodType): Def {
  return (schema as any)._zod.def as Def;
}

/** Strip wrappers that do not change the shape of the value: optional, default, nullable, pipe input, lazy, ... */
export function unwrapSchema(schema: z.ZodType): z.ZodType {
  for (let depth = 0; depth < 64; depth++) {
    const def = defOf(schema);
    switch (def.type) {
      case 'optional':
      case 'nullable':
      case 'default':
      case 'prefault':
      case 'readonly':
      case 'catch':
      case 'nonoptional':
      case 'success':
        schema = def.innerType;
        break;
      case 'pipe':
        schema = def.in;
        break;
      case 'lazy':
        schema = def.getter();
        break;
      default:
        return schema;
    }
  }
  return schema;
}

/** The keys a mapping schema accepts, or undefined for anything that is not a mapping schema. */
export function objectKeys(schema: z.ZodType): string[] | undefined {
  const def = defOf(unwrapSchema(schema));
  return def.type === 'object' ? Object.keys(def.shape) : undefined;
}

/** The schema for the value at `keyPath`, following mappings, lists and records; undefined where unknown. */
export function schemaAt(schema: z.ZodType, keyPath: KeyPath): z.ZodType | undefined {
  let current: z.ZodType | undefined = schema;
  for (const segment of keyPath) {
    if (!current) return undefined;
    const def = defOf(unwrapSchema(current));
    if (def.type === 'object')
      current =
        def.shape[String(segment)] ??
        (def.catchall && defOf(def.catchall).type !== 'never' ? def.catchall : undefined);
    else if (def.type === 'array') current = def.element;
    else if (def.type === 'record') current = def.valueType;
    else if (def.type === 'tuple') current = def.items[Number(segment)] ?? def.rest ?? undefined;
    else return undefined;
  }
  return current;
}

/** True when some wrapper around the schema accepts null (`.nullable()`, `.nullish()`). */
export function isNullableSchema(schema: z.ZodType | undefined): boolean {
  for (let depth = 0; schema && depth < 64; depth++) {
    const def = defOf(schema);
    if (def.type === 'nullable') return true;
    if (def.type === 'null') return true;
    const next: z.ZodType | undefined =
      def.type === 'pipe' ? def.in : def.type === 'lazy' ? def.getter() : def.innerType;
    if (!next || next === schema) return false;
    schema = next;
  }
  return false;
}

/** True for `z.int()` and `z.number().int()`. */
export function isIntegerSchema(schema: z.ZodType | undefined): boolean {
  if (!schema) return false;
  const inner = unwrapSchema(schema) as any;
  const def = defOf(inner);
  if (def.type !== 'number') return false;
  if (typeof def.format === 'string' && def.format.includes('int')) return true;
  const checks: any[] = def.checks ?? [];
  return checks.some((check) => String(check?._zod?.def?.format ?? '').includes('int'));
}

/** A key no schema accepts at that place. */
export interface UnknownKey {
  keyPath: (string | number)[];
  /** the keys that are accepted there */
  known: string[];
}

/**
 * Find keys in `value` that the schema does not declare. Objects are treated as
 * strict unless declared loose (`z.looseObject` / a catchall), so a typo is never
 * silently stripped. Unions are left to zod (the branch is not known here).
 */
export function findUnknownKeys(
  schema: z.ZodType,
  value: unknown,
  keyPath: (string | number)[] = [],
): UnknownKey[] {
  const def = defOf(unwrapSchema(schema));
  const found: UnknownKey[] = [];
  if (def.type === 'object' && isPlainObject(value)) {
    const loose = def.catchall !== undefined && defOf(def.catchall).type !== 'never';
    for (const [key, child] of Object.entries(value)) {
      const childSchema = Object.prototype.hasOwnProperty.call(def.shape, key)
        ? def.shape[key]
        : loose
          ? def.catchall
          : undefined;
      if (childSchema) found.push(...findUnknownKeys(childSchema, child, [...keyPath, key]));
      else found.push({ keyPath: [...keyPath, key], known: Object.keys(def.shape) });
    }
  } else if (def.type === 'array' && Array.isArray(value)) {
    value.forEach((item, i) => found.push(...findUnknownKeys(def.element, item, [...keyPath, i])));
  } else if (def.type === 'record' && isPlainObject(value)) {
    for (const [key, child] of Object.entries(value))
      found.push(...findUnknownKeys(def.valueType, child, [...keyPath, key]));
  }
  return found;
}
