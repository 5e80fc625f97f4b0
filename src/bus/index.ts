/**
 * The secure message bus on Redis Streams: direct messages to an agent's inbox, publish/subscribe
 * on topics (exact and prefix), request/response with correlation ids and timeouts, and broadcast;
 * at-most-once, at-least-once (consumer groups, XACK, XAUTOCLAIM redelivery) and exactly-once
 * (dedup marks committed atomically with the ack) delivery; signed (one Ed25519 signature per
 * frame of messages) and encrypted (one AES-256-GCM seal per frame) envelopes; a dead-letter stream with a
 * reason for every undelivered message; replay protection, size and rate limits; policy and
 * audit hooks. See docs/bus.md.
 */
export {
  createBus,
  type Bus,
  type CreateBusInput,
  type SendResult,
  type Payload,
  type SendInput,
  type PublishInput,
  type BroadcastInput,
  type RequestInput,
  type ReplyInput,
  type SubscribeInput,
  type UnsubscribeInput,
  type Subscription,
} from './bus.js';
export type { BusMessage, MessageHandler } from './consumer.js';
export {
  compileBusOptions,
  DEFAULT_BUS_OPTIONS,
  seenTtlMs,
  type BusOptions,
  type BusOptionsInput,
} from './options.js';
export { DEAD_LETTER_REASONS, type DeadLetterReason } from './dead-letter-reason.js';
export {
  DeadLetters,
  DLQ_FRAME_TTL_MS,
  DLQ_MAX_LEN,
  type DeadLetter,
  type DeadFrame,
  type DeadFrameLetter,
} from './dead-letters.js';
export {
  encodeEnvelopeHeader,
  decodeEnvelopeHeader,
  envelopeHeaderSize,
  writeEnvelopeHeader,
  DELIVERY_LEVELS,
  MESSAGE_KINDS,
  type EnvelopeHeader,
  type DeliveryLevel,
  type MessageKind,
} from './envelope.js';
export {
  encodeFrameHeader,
  decodeFrameHeader,
  frameSignedBytes,
  FRAME_VERSION,
  FRAME_ID_BYTES,
  type FrameHeader,
  type WireFrame,
} from './frame.js';
export {
  allowAllPolicy,
  noopAuditSink,
  checkSendFailClosed,
  type PreSendPolicy,
  type BusAuditSink,
  type BusAuditEvent,
  type SendMeta,
  type SendDecision,
} from './hooks.js';
export {
  streamKeys,
  agentKeyOwner,
  TOPICS_KEY_OWNER,
  BROADCAST_KEY_OWNER,
  type StreamKeys,
} from './stream-keys.js';
export { BusTimeoutError, BusRateLimitError, BusRejectedError, BusUsageError } from './errors.js';
export { runScript } from './scripts.js';
