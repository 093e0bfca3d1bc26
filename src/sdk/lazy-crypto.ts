// Owns reaching node:crypto only when an id, a random key or a hash is first needed: loading it costs the host app's
// start several milliseconds, and most of the SDK's import never uses it.

/** node:crypto, loaded on first call (process.getBuiltinModule: Node >= 20.16). */
export function nodeCrypto(): typeof import('node:crypto') {
  return process.getBuiltinModule('node:crypto');
}
