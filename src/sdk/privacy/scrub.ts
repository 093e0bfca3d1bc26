// Owns PII scrubbing: finding emails, phone numbers, secrets, card numbers, IP addresses and home paths in text.

import { isIPv6 } from 'node:net';

export type ScrubMode = 'redact' | 'hash' | 'off';
export const SCRUB_MODES: readonly ScrubMode[] = ['redact', 'hash', 'off'];

export type PiiKind = 'email' | 'phone' | 'card' | 'ip' | 'secret' | 'user';

/** What a found value becomes: `[email]` when redacting, `[email:1a2b3c4d5e6f]` when hashing. */
export type Replace = (kind: PiiKind, value: string) => string;

// Cheap gate: text with none of these characters or words cannot hold anything the detectors look for.
const MAYBE_PII = /[@\d:/\\]|bearer|token|key|secret|pass|pwd|auth/i;

const EMAIL = /[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]/g;
const BEARER = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
/** key=value or "key": "value" where the key names a secret. */
const SECRET_PAIR = /\b([\w.-]*(?:api[_-]?key|apikey|secret|token|password|passwd|pwd|access[_-]?key|auth)[\w.-]*)(["']?\s*[:=]\s*["']?)(?!(?:Bearer|Basic|Token)\s)([^\s"'&,;}]{4,})/gi;
/** Secrets recognisable by their vendor prefix, and JSON Web Tokens. */
const SECRET_TOKEN =
  /\b(?:sk|pk|rk)[-_](?:live|test|proj|ant)?[-_]?[A-Za-z0-9_-]{16,}|\bgh[pousr]_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}|\bxox[abprs]-[A-Za-z0-9-]{10,}|\bAKIA[0-9A-Z]{16}\b|\bAIza[0-9A-Za-z_-]{35}|\bglpat-[A-Za-z0-9_-]{20,}|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g;
/** 13 to 19 digits, optionally grouped by spaces or dashes; confirmed by issuer prefix and the Luhn check. */
const CARD = /\b\d(?:[ -]?\d){12,18}\b/g;
const IPV4 = /\b(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\b/g;
const IPV6_CANDIDATE = /(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])/g;
/** International (+ and 8–15 digits) or grouped national numbers like (555) 123-4567 and 555-123-4567. */
const PHONE = /(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}|\d{3}[.-]\d{3}[.-]\d{4})(?![\w])/g;
/** Another user's home folder: /home/<name>, /Users/<name>, C:\Users\<name>. */
const HOME_PATH = /(\/home\/|\/Users\/|[A-Za-z]:\\Users\\)([^/\\\s"']+)/g;

/** The Luhn checksum used by every payment card number. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** Issuer prefixes (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro): keeps timestamps and ids out. */
function cardIssuer(digits: string): boolean {
  const n = digits.length;
  const p2 = Number(digits.slice(0, 2));
  const p4 = Number(digits.slice(0, 4));
  if (digits[0] === '4') return n === 13 || n === 16 || n === 19;
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16;
  if (p2 === 34 || p2 === 37) return n === 15;
  if (p4 === 6011 || p2 === 65 || (p4 >= 6440 && p4 <= 6499)) return n >= 16 && n <= 19;
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19;
  if (p2 === 36 || p2 === 38 || p2 === 39 || (p4 >= 3000 && p4 <= 3059)) return n >= 14 && n <= 19;
  if (p2 === 62) return n >= 16 && n <= 19;
  if (p2 === 50 || (p2 >= 56 && p2 <= 69)) return n >= 12 && n <= 19;
  return false;
}

export function isCardNumber(candidate: string): boolean {
  const digits = candidate.replace(/[ -]/g, '');
  return digits.length >= 13 && digits.length <= 19 && cardIssuer(digits) && luhnValid(digits);
}

function phoneDigits(candidate: string): boolean {
  const n = candidate.replace(/\D/g, '').length;
  return n >= 8 && n <= 15;
}

/**
 * Replaces every PII value found in `text`. `home` is this machine's home folder (replaced by `~`, so paths stay
 * readable); other users' home folders lose their user name.
 */
export function scrubText(text: string, replace: Replace, home?: string): string {
  if (text.length < 4 || !MAYBE_PII.test(text)) return text;
  let out = text;
  if (home && home.length > 1 && out.includes(home)) out = out.split(home).join('~');
  if (out.includes('/home/') || out.includes('/Users/') || out.includes(':\\Users\\')) {
    out = out.replace(HOME_PATH, (_m, root: string, user: string) => `${root}${replace('user', user)}`);
  }
  out = out.replace(BEARER, (_m, scheme: string) => `${scheme} ${replace('secret', _m.slice(scheme.length + 1).trim())}`);
  out = out.replace(SECRET_TOKEN, (m) => replace('secret', m));
  out = out.replace(SECRET_PAIR, (m, key: string, sep: string, value: string) => (value.startsWith('[') ? m : `${key}${sep}${replace('secret', value)}`));
  if (out.includes('@')) out = out.replace(EMAIL, (m) => replace('email', m));
  out = out.replace(CARD, (m) => (isCardNumber(m) ? replace('card', m) : m));
  if (out.includes(':')) out = out.replace(IPV6_CANDIDATE, (m) => (m.length >= 3 && /\d/.test(m) && isIPv6(m) ? replace('ip', m) : m));
  out = out.replace(IPV4, (m) => replace('ip', m));
  out = out.replace(PHONE, (m) => (phoneDigits(m) ? replace('phone', m) : m));
  return out;
}

/** `[kind]`: the redacting replacement. */
export const redact: Replace = (kind) => `[${kind}]`;
