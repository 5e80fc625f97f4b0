/** Why a message was not delivered; every dead letter carries exactly one. */
export const DEAD_LETTER_REASONS = [
  'expired',
  'too_many_attempts',
  'unknown_recipient',
  'wrong_recipient',
  'policy_denied',
  'bad_signature',
  'decryption_failed',
  'too_large',
  'replayed',
  'unknown_key',
  'trimmed',
] as const;

export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];
