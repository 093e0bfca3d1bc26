// Owns the one HTTP Basic `Authorization` header every client of the stack sends (no imports: the SDK uses it too).

/** The `Authorization` header value for a user and password, or undefined without a password. */
export function basicAuthorization(credential: { username: string; password: string }): string;
export function basicAuthorization(credential: { username: string; password: string | undefined }): string | undefined;
export function basicAuthorization(credential: { username: string; password: string | undefined }): string | undefined {
  if (credential.password === undefined) return undefined;
  return `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`;
}
