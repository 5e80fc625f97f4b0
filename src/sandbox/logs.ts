/**
 * Splits Docker's multiplexed log stream (non-TTY containers) into stdout and stderr. Each frame is
 * an 8-byte header — stream type (1 = stdout, 2 = stderr), three zero bytes, a big-endian uint32
 * payload length — followed by the payload. Keeps at most `limit` bytes of each stream.
 */
export function demuxDockerLogs(
  buffer: Buffer,
  limit: number,
): { stdout: string; stderr: string; truncated: boolean } {
  const chunks: Record<1 | 2, Buffer[]> = { 1: [], 2: [] };
  const sizes: Record<1 | 2, number> = { 1: 0, 2: 0 };
  let truncated = false;
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const type = buffer[offset];
    const length = buffer.readUInt32BE(offset + 4);
    const payload = buffer.subarray(offset + 8, Math.min(buffer.length, offset + 8 + length));
    offset += 8 + length;
    if (type !== 1 && type !== 2) continue;
    const room = limit - sizes[type];
    if (payload.length > room) truncated = true;
    if (room > 0) {
      const kept = payload.subarray(0, room);
      chunks[type].push(kept);
      sizes[type] += kept.length;
    }
  }
  return {
    stdout: Buffer.concat(chunks[1]).toString('utf8'),
    stderr: Buffer.concat(chunks[2]).toString('utf8'),
    truncated,
  };
}
