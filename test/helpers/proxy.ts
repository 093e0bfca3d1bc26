import { createServer, type IncomingMessage, type Server } from 'node:http';

export interface Captured {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export interface TestProxy {
  url: string;
  requests: Captured[];
  close(): Promise<void>;
}

/**
 * A loopback HTTP server that records every request, then either answers itself (when `answer` returns a status)
 * or forwards the request to `target` and relays the answer. `answer` also sees whether forwarding happened first.
 */
export async function startProxy(
  target: string | undefined,
  answer: (request: Captured, index: number) => { status: number; body?: string; forwardFirst?: boolean; headers?: Record<string, string> } | undefined = () => undefined,
): Promise<TestProxy> {
  const requests: Captured[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const captured: Captured = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
    const index = requests.push(captured) - 1;
    const decision = answer(captured, index);
    const forward = async () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
      return fetch(`${target}${req.url}`, { method: req.method ?? 'POST', headers, body: captured.body.length > 0 ? captured.body : null });
    };
    if (decision) {
      if (decision.forwardFirst && target) await (await forward()).arrayBuffer();
      res.writeHead(decision.status, decision.headers ?? {});
      res.end(decision.body ?? '');
      return;
    }
    if (!target) {
      res.writeHead(200);
      res.end();
      return;
    }
    const upstream = await forward();
    const body = Buffer.from(await upstream.arrayBuffer());
    const headers: Record<string, string> = {};
    upstream.headers.forEach((v, k) => {
      if (k !== 'content-length' && k !== 'content-encoding' && k !== 'transfer-encoding' && k !== 'connection') headers[k] = v;
    });
    res.writeHead(upstream.status, headers);
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
