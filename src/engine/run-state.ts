// Owns <home>/run/engine.json, for both engines: which engine runs this home's stack now, written once it runs,
// removed when it stops. (What `start` chose, kept across stops, is stack-file.ts's <home>/run/stack.json.)

import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Config } from '../config/index.js';
import type { EngineState } from './types.js';

/** The Docker engine's record: the containers carry the rest (labels, state). */
export interface DockerRunState {
  engine: 'docker';
  project: string;
  startedAt: string;
}

/** The embedded engine's record (its process, ports and schema), or the Docker engine's. */
export type RunState = EngineState | DockerRunState;

/** Records that `state`'s engine runs the stack (atomically: a reader never sees half a file). */
export async function writeRunState(config: Config, state: RunState): Promise<void> {
  const file = config.paths.stateFile;
  await mkdir(dirname(file), { recursive: true });
  await writeFile(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

/** The recorded state, whatever its process does now; undefined when there is none or it is not a record of ours. */
export async function readRunState(config: Config): Promise<RunState | undefined> {
  const text = await readFile(config.paths.stateFile, 'utf8').catch(() => undefined);
  if (!text) return undefined;
  try {
    const state = JSON.parse(text) as Partial<RunState>;
    if (state.engine === 'docker') return state as DockerRunState;
    if (state.engine === 'embedded' && typeof (state as EngineState).pid === 'number') return state as EngineState;
  } catch {
    // not a record: as if there were none
  }
  return undefined;
}

/**
 * The state of a stack that runs now: the embedded engine's while its process lives, the Docker engine's as recorded
 * (its containers are asked by the engine itself).
 */
export async function liveRunState(config: Config): Promise<RunState | undefined> {
  const state = await readRunState(config);
  if (state?.engine === 'embedded' && !isAlive(state.pid)) return undefined;
  return state;
}

/** Forgets the run (the stack stopped). */
export async function clearRunState(config: Config): Promise<void> {
  await rm(config.paths.stateFile, { force: true });
}

/** True while the process runs. A zombie (exited, not yet reaped by its parent) counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc here: the signal check is all there is
  }
}
