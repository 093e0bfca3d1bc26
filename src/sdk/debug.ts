// Owns the SDK's diagnostic lines: written to stderr only when DEBUG names automagik (e.g. DEBUG=automagik:*).

export type DebugFn = ((message: string) => void) & { readonly enabled: boolean };

export function createDebug(namespace: string, env: NodeJS.ProcessEnv = process.env): DebugFn {
  const pattern = env.DEBUG ?? '';
  const on = pattern.split(/[\s,]+/).some((p) => p === '*' || p === 'automagik:*' || p === namespace || p === 'automagik');
  const write = on ? (message: string) => void process.stderr.write(`${namespace} ${message}\n`) : () => undefined;
  return Object.assign(write, { enabled: on });
}
