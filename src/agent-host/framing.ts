import { PROTOCOL_ERROR_CODES } from './protocol.js';

/** 4-byte big-endian body length, then the UTF-8 JSON body. */
export const FRAME_HEADER_BYTES = 4;

/** Encodes one frame; throws RangeError if the body exceeds `maxFrameBytes`. */
export function encodeFrame(frame: unknown, maxFrameBytes: number): Buffer {
  const body = Buffer.from(JSON.stringify(frame), 'utf8');
  if (body.length > maxFrameBytes) {
    throw new RangeError(`frame of ${body.length} bytes exceeds the peer's limit of ${maxFrameBytes} bytes`);
  }
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, FRAME_HEADER_BYTES);
  return out;
}

/** What the decoder hands out: a parsed JSON value, or a problem with one frame (the stream goes on). */
export type Decoded =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly code: string; readonly message: string };

/**
 * Incremental decoder. A frame whose declared length exceeds the limit is skipped byte for byte
 * (its length is still known, so the stream stays in sync) and reported once; a body that is not
 * UTF-8 JSON is reported. Neither ends the stream.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private skip = 0;

  constructor(private readonly maxFrameBytes: number) {}

  push(chunk: Buffer): Decoded[] {
    const out: Decoded[] = [];
    if (this.skip > 0) {
      const n = Math.min(this.skip, chunk.length);
      this.skip -= n;
      chunk = chunk.subarray(n);
    }
    if (chunk.length) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    while (this.buffered >= FRAME_HEADER_BYTES) {
      const head = this.peek(FRAME_HEADER_BYTES);
      const length = head.readUInt32BE(0);
      if (length > this.maxFrameBytes) {
        this.consume(FRAME_HEADER_BYTES);
        const n = Math.min(length, this.buffered);
        this.consume(n);
        this.skip = length - n;
        out.push({
          ok: false,
          code: PROTOCOL_ERROR_CODES.frameTooLarge,
          message: `frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes} bytes; it was skipped`,
        });
        if (this.skip > 0) break;
        continue;
      }
      if (this.buffered < FRAME_HEADER_BYTES + length) break;
      this.consume(FRAME_HEADER_BYTES);
      const body = this.consume(length);
      try {
        const text = new TextDecoder('utf-8', { fatal: true }).decode(body);
        out.push({ ok: true, value: JSON.parse(text) as unknown });
      } catch (error) {
        out.push({
          ok: false,
          code: PROTOCOL_ERROR_CODES.badFrame,
          message: `frame body is not UTF-8 JSON: ${error instanceof Error ? error.message : String(error)}`,
        });
      }
    }
    return out;
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.chunks).subarray(0, n);
  }

  private consume(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    let out: Buffer;
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.chunks);
      out = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.buffered -= n;
    return out;
  }
}

/** The id of a frame that failed validation, if it carried a usable one (so the error can refer to it). */
export function frameIdOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const id = (value as { id?: unknown }).id;
  return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : undefined;
}
