// The bench's and the soak run's shared plumbing: running a node child (arguments, environment, optional stdin from a
// file; resolves with its exit code and what it printed) and picking a free port on 127.0.0.1.

import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { createServer } from 'node:net';

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export function runNode(args, env, stdinFile) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: [stdinFile ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    if (stdinFile) createReadStream(stdinFile).pipe(child.stdin);
  });
}
