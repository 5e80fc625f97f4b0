import { CanonicalEncodingError } from './errors.js';

/**
 * A value a canonical record may hold. Integers must be safe integers; a list holds byte strings.
 */
export type CanonicalValue = null | boolean | number | string | Uint8Array | readonly Uint8Array[];

/** A flat record of named values; key order does not matter, the encoding sorts the names. */
export type CanonicalRecord = Readonly<Record<string, CanonicalValue>>;

const VERSION = 1;
const enum Tag {
  Null = 0,
  False = 1,
  True = 2,
  Int = 3,
  String = 4,
  Bytes = 5,
  List = 6,
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Encodes a record deterministically: a version byte, the field count, then for each field in
 * byte-wise order of its UTF-8 name: u16 name length, name, a type tag and the value (u32-length-
 * prefixed strings/bytes, int64 big-endian integers, u32-count lists of length-prefixed byte
 * strings). Every value has exactly one encoding, so equal records encode equally and the decoder
 * rejects anything that is not the canonical form: the encoding is injective.
 */
export function encodeCanonical(record: CanonicalRecord): Buffer {
  const names = sortedNames(Object.keys(record));
  let size = 5;
  for (const name of names) {
    const nb = nameBytes(name);
    if (nb.length > 0xffff)
      throw new CanonicalEncodingError(`field name '${name.slice(0, 32)}…' is too long`, name);
    size += 2 + nb.length + valueSize(name, record[name] as CanonicalValue);
  }
  const out = Buffer.allocUnsafe(size);
  out[0] = VERSION;
  out.writeUInt32BE(names.length, 1);
  let at = 5;
  for (const name of names) {
    const nb = nameBytes(name);
    out.writeUInt16BE(nb.length, at);
    at += 2;
    at += nb.copy(out, at);
    at = writeValue(out, at, record[name] as CanonicalValue);
  }
  return out;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const nameCache = new Map<string, Buffer>();
function nameBytes(name: string): Buffer {
  let b = nameCache.get(name);
  if (!b) {
    b = Buffer.from(name, 'utf8');
    if (nameCache.size < 4096) nameCache.set(name, b);
  }
  return b;
}

const orderCache = new Map<string, readonly string[]>();
function sortedNames(keys: string[]): readonly string[] {
  const sig = keys.join('\0');
  let sorted = orderCache.get(sig);
  if (!sorted) {
    sorted = [...keys].sort((a, b) => Buffer.compare(nameBytes(a), nameBytes(b)));
    if (orderCache.size < 1024) orderCache.set(sig, sorted);
  }
  return sorted;
}

function valueSize(name: string, value: CanonicalValue): number {
  if (value === null || value === false || value === true) return 1;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new CanonicalEncodingError(
        `field '${name}' must be a safe integer, got ${value}; encode other numbers as strings`,
        name,
      );
    }
    return 9;
  }
  if (typeof value === 'string') {
    if (LONE_SURROGATE.test(value))
      throw new CanonicalEncodingError(
        `field '${name}' holds a lone UTF-16 surrogate; strings must be well-formed`,
        name,
      );
    return 5 + Buffer.byteLength(value, 'utf8');
  }
  if (value instanceof Uint8Array) return 5 + value.length;
  if (Array.isArray(value)) {
    let n = 5;
    for (const item of value as readonly unknown[]) {
      if (!(item instanceof Uint8Array))
        throw new CanonicalEncodingError(`field '${name}' lists must hold only byte strings`, name);
      n += 4 + item.length;
    }
    return n;
  }
  throw new CanonicalEncodingError(`field '${name}' has an unsupported type ${typeof value}`, name);
}

function writeValue(out: Buffer, at: number, value: CanonicalValue): number {
  if (value === null) return out.writeUInt8(Tag.Null, at);
  if (value === false) return out.writeUInt8(Tag.False, at);
  if (value === true) return out.writeUInt8(Tag.True, at);
  if (typeof value === 'number') {
    out[at] = Tag.Int;
    return out.writeBigInt64BE(BigInt(value), at + 1);
  }
  if (typeof value === 'string') {
    out[at] = Tag.String;
    const n = out.write(value, at + 5, 'utf8');
    out.writeUInt32BE(n, at + 1);
    return at + 5 + n;
  }
  if (value instanceof Uint8Array) {
    out[at] = Tag.Bytes;
    out.writeUInt32BE(value.length, at + 1);
    out.set(value, at + 5);
    return at + 5 + value.length;
  }
  const list = value as readonly Uint8Array[];
  out[at] = Tag.List;
  out.writeUInt32BE(list.length, at + 1);
  at += 5;
  for (const item of list) {
    out.writeUInt32BE(item.length, at);
    out.set(item, at + 4);
    at += 4 + item.length;
  }
  return at;
}

/** Decodes bytes produced by {@link encodeCanonical}; throws CanonicalEncodingError on any deviation. */
export function decodeCanonical(input: Uint8Array): Record<string, CanonicalValue> {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  let at = 0;
  const need = (n: number): void => {
    if (at + n > buf.length) throw new CanonicalEncodingError(`truncated canonical encoding at byte ${at}`);
  };
  const readU32 = (): number => {
    need(4);
    const v = buf.readUInt32BE(at);
    at += 4;
    return v;
  };
  need(1);
  if (buf[at++] !== VERSION) throw new CanonicalEncodingError(`unknown canonical encoding version ${buf[0]}`);
  const count = readU32();
  const out: Record<string, CanonicalValue> = {};
  const set = (name: string, value: CanonicalValue): void => {
    Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
  };
  let previous: Buffer | undefined;
  for (let i = 0; i < count; i++) {
    need(2);
    const len = buf.readUInt16BE(at);
    at += 2;
    need(len);
    const nameBytes = buf.subarray(at, at + len);
    at += len;
    if (previous && Buffer.compare(previous, nameBytes) >= 0) {
      throw new CanonicalEncodingError(
        'field names are not in strictly ascending order (duplicate or unsorted)',
      );
    }
    previous = nameBytes;
    const name = utf8Strict.decode(nameBytes);
    need(1);
    const tag = buf[at++];
    switch (tag) {
      case Tag.Null:
        set(name, null);
        break;
      case Tag.False:
        set(name, false);
        break;
      case Tag.True:
        set(name, true);
        break;
      case Tag.Int: {
        need(8);
        const big = buf.readBigInt64BE(at);
        at += 8;
        if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < BigInt(Number.MIN_SAFE_INTEGER)) {
          throw new CanonicalEncodingError(`field '${name}' holds an integer outside the safe range`, name);
        }
        set(name, Number(big));
        break;
      }
      case Tag.String:
      case Tag.Bytes: {
        const n = readU32();
        need(n);
        const raw = buf.subarray(at, at + n);
        at += n;
        if (tag === Tag.String) {
          set(name, utf8Strict.decode(raw));
        } else set(name, Buffer.from(raw));
        break;
      }
      case Tag.List: {
        const n = readU32();
        const items: Buffer[] = [];
        for (let j = 0; j < n; j++) {
          const m = readU32();
          need(m);
          items.push(Buffer.from(buf.subarray(at, at + m)));
          at += m;
        }
        set(name, items);
        break;
      }
      default:
        throw new CanonicalEncodingError(`field '${name}' has unknown type tag ${tag}`, name);
    }
  }
  if (at !== buf.length)
    throw new CanonicalEncodingError(`${buf.length - at} trailing bytes after the canonical encoding`);
  return out;
}
