/**
 * How `secret` would look if it leaked into a stored record: its raw bytes, hex (either case), and
 * base64/base64url at each of the three alignments it could have inside a longer encoded buffer
 * (only the complete 4-character groups, which appear whatever precedes or follows the secret).
 */
function leakForms(secret: Buffer): Map<string, Buffer> {
  const forms = new Map<string, Buffer>([
    ['raw', secret],
    ['hex', Buffer.from(secret.toString('hex'))],
    ['HEX', Buffer.from(secret.toString('hex').toUpperCase())],
  ]);
  for (let k = 0; k < 3; k++) {
    const part = secret.subarray(k, k + Math.floor((secret.length - k) / 3) * 3);
    forms.set(`base64@${k}`, Buffer.from(part.toString('base64')));
    forms.set(`base64url@${k}`, Buffer.from(part.toString('base64url')));
  }
  return forms;
}

/** The first form in which `secret` appears in `blob`, or undefined when it appears in none. */
export function leakIn(blob: Buffer, secret: Buffer): string | undefined {
  for (const [form, bytes] of leakForms(secret)) if (blob.includes(bytes)) return form;
  return undefined;
}
