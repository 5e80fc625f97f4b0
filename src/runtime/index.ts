/**
 * Runtime composition: the adapters that wire the policy engine and the audit trail into the bus.
 */
export { busAuditToLog, busPolicyFromEngine, type BusAuditOptions } from './bus-hooks.js';
