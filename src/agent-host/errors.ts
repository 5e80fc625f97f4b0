import { ArsError } from '../util/errors.js';

/** A peer broke the stdio protocol (bad frame, wrong version, no hello). */
export class ProtocolError extends ArsError {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** The agent process exited (or was killed) while the host still needed it. */
export class AgentProcessExitedError extends ArsError {
  readonly code = 'ARS_AGENT_PROCESS_EXITED';

  constructor(
    readonly agentType: string,
    readonly exitCode: number | null,
    readonly signal: string | null,
    readonly stderrTail: string,
  ) {
    super(
      `agent process for '${agentType}' exited (code ${String(exitCode)}, signal ${String(signal)}); its pending messages failed. Last stderr: ${stderrTail || '(none)'}`,
    );
  }
}

/** The agent process stopped answering heartbeats and was killed. */
export class AgentUnresponsiveError extends ArsError {
  readonly code = 'ARS_AGENT_UNRESPONSIVE';

  constructor(
    readonly agentType: string,
    readonly silentMs: number,
  ) {
    super(
      `agent process for '${agentType}' sent nothing for ${silentMs} ms (no heartbeat answer) and was killed; check for a blocking handler or raise heartbeatTimeoutMs`,
    );
  }
}
