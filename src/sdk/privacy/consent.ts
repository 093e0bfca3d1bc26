// Owns the user's opt-out: AUTOMAGIK_TELEMETRY_ENABLED=false, DO_NOT_TRACK=1, or a ~/.automagik-no-telemetry file.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { userHome } from './identity.js';

export const OPT_OUT_FILE = '.automagik-no-telemetry';

const FALSE = new Set(['false', '0', 'no', 'off']);
const TRUE = new Set(['1', 'true', 'yes', 'on']);

/** Why the user turned telemetry off, or undefined when they did not. The user's choice wins over the app's code. */
export function optOutReason(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const enabled = env.AUTOMAGIK_TELEMETRY_ENABLED?.trim().toLowerCase();
  if (enabled !== undefined && FALSE.has(enabled)) return `AUTOMAGIK_TELEMETRY_ENABLED=${env.AUTOMAGIK_TELEMETRY_ENABLED}`;
  const dnt = env.DO_NOT_TRACK?.trim().toLowerCase();
  if (dnt !== undefined && TRUE.has(dnt)) return `DO_NOT_TRACK=${env.DO_NOT_TRACK}`;
  const file = join(userHome(env), OPT_OUT_FILE);
  if (existsSync(file)) return `${file} exists`;
  return undefined;
}
