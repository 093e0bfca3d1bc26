import { createServer } from 'node:net';

// Test files run in parallel processes, each picking ports for engines it starts later. Ports the system hands out
// (listen on 0) can be handed to two processes in turn before either binds them; so each worker draws from a range
// of its own, below the system's ephemeral range (32768 and up on Linux), and checks the port is free.
const WORKER = Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? 0) % 8;
const RANGE = 1_500;
const BASE = 20_000 + WORKER * RANGE;
let next = Math.floor(Math.random() * RANGE);

function listens(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A TCP port on 127.0.0.1 that nothing listens on right now, from this worker's own range. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < RANGE; tries++) {
    const port = BASE + (next++ % RANGE);
    if (await listens(port)) return port;
  }
  throw new Error(`no free port in ${BASE}–${BASE + RANGE - 1}`);
}
