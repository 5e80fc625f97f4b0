// Shared imports of the audit integration tests.
export { AuditIntegrityError, AuditLog, auditKeys, generateAuditSigner } from '../../../src/audit/index.js';
import { randomId } from '../../../src/util/ids.js';

/** A random Redis key prefix for one test. */
export const randomIdFor = (base: string): string => randomId(base);
