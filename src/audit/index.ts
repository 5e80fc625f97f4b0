/**
 * Audit: the append-only, hash-chained, Ed25519-signed audit trail in Redis. Every event kind of the
 * design (agent lifecycle, messages, policy decisions, resource allocation, security events) becomes
 * an entry with a canonical encoding of all its fields, a sequence number, the previous entry's hash,
 * its own hash, a signature and the key id. Writers on any number of processes append through one
 * compare-and-set Lua script (group-committed batches); signed checkpoints of the head let
 * `verify(from, to)` detect edits, insertions, deletions, reordering, tail truncation and rollback and
 * name the first bad entry. Queries by agent, kind and time; JSON Lines export.
 */
export { APPEND_SCRIPT } from './append.lua.js';
export { canonicalize, type JsonObject, type JsonValue } from './canonical.js';
export {
  checkpointSignatureValid,
  decodeCheckpoint,
  sealCheckpoint,
  type AuditCheckpoint,
} from './checkpoint.js';
export {
  AUDIT_ENTRY_VERSION,
  GENESIS_HASH,
  checkEncoding,
  decodeEntry,
  encodeEntry,
  entryEncodings,
  hashEntryBody,
  sealEntry,
  sealPrepared,
  signatureValid,
  type AuditEntry,
  type SealedEntry,
} from './entry.js';
export {
  AuditConflictError,
  AuditEventError,
  AuditIntegrityError,
  AuditKeyError,
  CanonicalEncodingError,
} from './errors.js';
export {
  AUDIT_DATA_SCHEMAS,
  AUDIT_EVENT_KINDS,
  compileAuditEvent,
  type AuditEvent,
  type AuditEventInput,
  type AuditEventKind,
} from './events.js';
export {
  AUDIT_KEY_ENV,
  AUDIT_KEY_FILE,
  DEFAULT_AUDIT_KEY_DIR,
  generateAuditSigner,
  keyIdOf,
  loadAuditSigner,
  parsePrivateKey,
  publicKeyFromRaw,
  signerFromPrivateKey,
  type AuditSigner,
} from './keys.js';
export { AuditLog, type AuditQuery, type AuditRedis, type VerifyOptions } from './log.js';
export {
  DEFAULT_AUDIT_LOG_OPTIONS,
  auditKeys,
  compileAuditLogOptions,
  type AuditLogOptions,
  type AuditLogOptionsInput,
} from './options.js';
export { defaultVerifyWorkers, verifyStream, type VerifyStreamOptions } from './verify-parallel.js';
export {
  ChainVerifier,
  checkCheckpoints,
  type SignatureCheck,
  type VerifyFailure,
  type VerifyFailureReason,
  type VerifyResult,
} from './verify.js';
