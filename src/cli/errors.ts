// Owns turning any failure into what the user sees and the exit code: one place for the mapping.

import { CommanderError } from 'commander';
import { isTelemetryError, type ErrorCode } from '../errors.js';
import type { Ui } from './ui.js';

/** Exit codes (documented in the README): 0 ok, 1 failure, 2 bad usage or configuration, 3 the stack is not running, 130 Ctrl-C. */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, NOT_RUNNING: 3, INTERRUPTED: 130 } as const;

const CODE_EXIT: Partial<Record<ErrorCode, number>> = {
  E_CONFIG: EXIT.USAGE,
  E_FILE: EXIT.USAGE,
  E_ENGINE_NOT_RUNNING: EXIT.NOT_RUNNING,
};

export function reportError(ui: Ui, error: unknown, json: boolean): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  if (isTelemetryError(error)) {
    if (json) ui.json({ error: { code: error.code, message: error.message, hint: error.hint, details: error.details } });
    ui.err(`${ui.ce.red('error')} ${error.message}`);
    if (error.hint) ui.err(ui.ce.dim(error.hint.replace(/^/gm, '  ')));
    return CODE_EXIT[error.code] ?? EXIT.FAILURE;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (json) ui.json({ error: { code: 'E_UNEXPECTED', message } });
  ui.err(`${ui.ce.red('error')} unexpected failure: ${message}`);
  if (error instanceof Error && error.stack && ui.io.env.DEBUG) ui.err(error.stack);
  return EXIT.FAILURE;
}
