// Owns PII scrubbing: finding emails, phone numbers, secrets, card numbers, IP addresses and home paths in text.

export type ScrubMode = 'redact' | 'hash' | 'off';
export const SCRUB_MODES: readonly ScrubMode[] = ['redact', 'hash', 'off'];

export type PiiKind = 'email' | 'phone' | 'card' | 'ip' | 'secret' | 'user';

/** What a found value becomes: `[email]` when redacting, `[email:1a2b3c4d5e6f]` when hashing. */
export type Replace = (kind: PiiKind, value: string) => string;

// An email is up to 64 characters of [A-Za-z0-9!#$%&'*+/=?^_`{|}~.-] before an "@", then this domain (RFC 5321 limits:
// 64 for the local part, 63 a label). Every bound keeps a hostile value linear, where unbounded quantifiers went
// quadratic (a 20 KB attribute with one "@" took over a second). Matched from each "@" (see replaceEmails).
const EMAIL_DOMAIN = /(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,10}[A-Za-z][A-Za-z0-9-]{0,61}[A-Za-z0-9]/y;
const EMAIL_LOCAL = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~.-") EMAIL_LOCAL[c.charCodeAt(0)] = 1;
const BEARER = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
/** key=value or "key": "value" where the key names a secret. */
const SECRET_PAIR = /\b([\w.-]{0,40}(?:api[_-]?key|apikey|secret|token|password|passwd|pwd|access[_-]?key|auth)[\w.-]{0,40})(["']?\s*[:=]\s*["']?)(?!(?:Bearer|Basic|Token)\s)([^\s"'&,;}]{4,})/gi;
/** Secrets recognisable by their vendor prefix, and JSON Web Tokens. */
const SECRET_TOKEN =
  /\b(?:sk|pk|rk)[-_](?:live|test|proj|ant)?[-_]?[A-Za-z0-9_-]{16,}|\bgh[pousr]_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}|\bxox[abprs]-[A-Za-z0-9-]{10,}|\bAKIA[0-9A-Z]{16}\b|\bAIza[0-9A-Za-z_-]{35}|\bglpat-[A-Za-z0-9_-]{20,}|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g;
/** 13 to 19 digits, optionally grouped by spaces or dashes; confirmed by issuer prefix and the Luhn check. */
const CARD = /\b\d(?:[ -]?\d){12,18}\b/g;
const IPV4 = /\b(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\b/g;
const IPV6_CANDIDATE = /(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,8}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:]|\.\d)/g;
/** International (+ and 8–15 digits) or grouped national numbers like (555) 123-4567 and 555-123-4567. */
const PHONE = /(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}|\d{3}[.-]\d{3}[.-]\d{4})(?![\w])/g;
/** Another user's home folder: /home/<name>, /Users/<name>, C:\Users\<name>. */
const HOME_PATH = /(\/home\/|\/Users\/|[A-Za-z]:\\Users\\)([^/\\\s"']+)/g;

/**
 * Replaces each email: what one global regex (local part{1,64} "@" domain) finds, found from each "@" instead, as the
 * regex's leftmost match is the longest run of local-part characters before it (at most 64, not reaching back into
 * the previous match). Five times cheaper than the global regex, which tries every position of the text.
 */
export function replaceEmails(text: string, replace: Replace): string {
  let at = text.indexOf('@');
  let out = '';
  let copied = 0;
  while (at !== -1) {
    let start = at;
    const floor = Math.max(copied, at - 64);
    while (start > floor && EMAIL_LOCAL[text.charCodeAt(start - 1)] === 1) start--;
    EMAIL_DOMAIN.lastIndex = at + 1;
    if (start < at && EMAIL_DOMAIN.test(text)) {
      const end = EMAIL_DOMAIN.lastIndex;
      out += text.slice(copied, start) + replace('email', text.slice(start, end));
      copied = end;
      at = text.indexOf('@', end);
    } else at = text.indexOf('@', at + 1);
  }
  return copied === 0 ? text : out + text.slice(copied);
}

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

/** RFC 4291 text forms: eight groups, or fewer around one "::", optionally ending in a dotted IPv4 address. */
export function isIPv6(text: string): boolean {
  let groups = text;
  let extra = 0;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) !== -1) {
    const v4 = text.slice(lastColon + 1);
    if (!/^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(v4)) return false;
    groups = `${text.slice(0, lastColon + 1)}0`;
    extra = 1;
  }
  const halves = groups.split('::');
  if (halves.length > 2) return false;
  const count = (half: string) => (half === '' ? 0 : half.split(':').length);
  const valid = (half: string) => half === '' || half.split(':').every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g));
  if (!halves.every(valid)) return false;
  const total = halves.reduce((n, h) => n + count(h), 0) + extra;
  return halves.length === 2 ? total <= 7 : total === 8;
}

/** Short all-letter forms like "a::b" or "add::bad" are more often code than addresses: a digit or three groups. */
function likelyAddress(candidate: string): boolean {
  return /\d/.test(candidate) || candidate.split(':').filter((g) => g !== '').length >= 3;
}

// Which detectors can match is decided from one pass over the text, so ordinary strings cost a loop, not nine regexes.
// Case-sensitive with the casings people write (token, Token, TOKEN): a third cheaper than one /i alternation.
const SECRET_WORDS = /[Bb]earer|BEARER|[Bb]asic|BASIC|[Tt]oken|TOKEN|[Kk]ey|KEY|[Ss]ecret|SECRET|[Pp]ass|PASS|[Pp]wd|PWD|[Aa]uth|AUTH|[spr]k[-_]|gh[pousr]_|github_pat|xox|AKIA|AIza|glpat|eyJ/;

/** The letters of `word` as a bit set, case folded: bit 0 is a or A, bit 25 z or Z. */
function letterSet(word: string): number {
  let set = 0;
  for (let i = 0; i < word.length; i++) set |= 1 << ((word.charCodeAt(i) | 32) - 97);
  return set;
}

/**
 * The letters each secret form needs, case folded (so it holds for BEARER's and SECRET_PAIR's /i too): a text missing
 * a letter of every set can name no secret, and skips the keyword search. "k" alone stands for token, key, api_key,
 * access_key, sk_/pk_/rk_ and AKIA; github_pat and gh?_ need g and h.
 */
const SECRET_LETTERS = ['k', 'bear', 'basic', 'secret', 'pas', 'pwd', 'auth', 'gh', 'xo', 'aiz', 'glpat', 'eyj'].map(letterSet);

function mayNameSecret(letters: number): boolean {
  for (let i = 0; i < SECRET_LETTERS.length; i++) {
    const need = SECRET_LETTERS[i]!;
    if ((letters & need) === need) return true;
  }
  return false;
}

/** What one pass over the text tells about which detectors can match. */
export interface Shape {
  digits: number;
  dots: number;
  at: boolean;
  colon: boolean;
  slash: boolean;
  secrets: boolean;
}

/** A shape that runs every detector: what the one-pass shortcuts are checked against. */
export const EVERY_DETECTOR: Shape = Object.freeze({ digits: Infinity, dots: Infinity, at: true, colon: true, slash: true, secrets: true });

/** Which detectors could match `text`, from one pass; undefined when none could (most values). */
export function shapeOf(text: string): Shape | undefined {
  const n = text.length;
  if (n < 4) return undefined;
  let digits = 0;
  let dots = 0;
  let letters = 0;
  let at = false;
  let colon = false;
  let slash = false;
  let separator = false;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    const letter = (c | 32) - 97;
    if (letter >= 0 && letter < 26) letters |= 1 << letter;
    else if (c >= 48 && c <= 57) digits++;
    else if (c === 46) dots++;
    else if (c === 64) at = true;
    else if (c === 58) colon = true;
    else if (c === 47 || c === 92) slash = true;
    else if (c === 32 || c === 61 || c === 95 || c === 45 || c === 9) separator = true;
  }
  // A plain number can only be a card number.
  if (digits === n) return digits >= 13 ? { digits, dots, at, colon, slash, secrets: false } : undefined;
  // Every secret form needs a space (Bearer …), '=' or ':' (key=value), '_' or '-' (sk_…, ghp_…, xoxb-…), a dot (JWT)
  // or 20 characters (AKIA…), and the letters of its keyword: a word or sentence without them skips the keyword
  // search, the costly part.
  const secrets = (separator || colon || dots > 0 || n >= 20) && mayNameSecret(letters) && SECRET_WORDS.test(text);
  if (digits < 8 && dots < 3 && !at && !colon && !slash && !secrets) return undefined;
  return { digits, dots, at, colon, slash, secrets };
}

/**
 * False when one cheap pass, with no regex, shows no detector could match: no '@', ':', '/' or '\\', fewer than 8
 * digits (13 for a plain number) and 3 dots, and no separator, dot or length with the letters of a secret's keyword.
 * Most attribute values stop here and skip the memo; '@', ':' and slashes stop the pass at once (paths and
 * addresses, which repeat, go to the memo).
 */
export function mayHoldPii(text: string): boolean {
  const n = text.length;
  if (n < 4) return false;
  let digits = 0;
  let dots = 0;
  let letters = 0;
  let separator = false;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    const letter = (c | 32) - 97;
    if (letter >= 0 && letter < 26) letters |= 1 << letter;
    else if (c >= 48 && c <= 57) digits++;
    else if (c === 64 || c === 58 || c === 47 || c === 92) return true;
    else if (c === 46) dots++;
    else if (c === 32 || c === 61 || c === 95 || c === 45 || c === 9) separator = true;
  }
  if (digits === n) return digits >= 13;
  if (digits >= 8 || dots >= 3) return true;
  return (separator || dots > 0 || n >= 20) && mayNameSecret(letters);
}

/**
 * Replaces every PII value found in `text`. `home` is this machine's home folder (replaced by `~`, so paths stay
 * readable); other users' home folders lose their user name.
 */
export function scrubText(text: string, replace: Replace, home?: string): string {
  return scrubShaped(text, shapeOf(text), replace, home);
}

/** scrubText for a text whose shape is already known (the scrubber computes it once to decide on its memo). */
export function scrubShaped(text: string, shape: Shape | undefined, replace: Replace, home?: string): string {
  if (!shape) return text;
  const { digits, dots, at, colon, slash, secrets } = shape;
  let out = text;
  if (slash) {
    if (home && home.length > 1 && out.includes(home)) out = out.split(home).join('~');
    if (out.includes('/home/') || out.includes('/Users/') || out.includes(':\\Users\\')) {
      out = out.replace(HOME_PATH, (_m, root: string, user: string) => `${root}${replace('user', user)}`);
    }
  }
  if (secrets) {
    out = out.replace(BEARER, (m, scheme: string) => `${scheme} ${replace('secret', m.slice(scheme.length + 1).trim())}`);
    out = out.replace(SECRET_TOKEN, (m) => replace('secret', m));
    if (colon || out.includes('=')) out = out.replace(SECRET_PAIR, (m, key: string, sep: string, value: string) => (value.startsWith('[') ? m : `${key}${sep}${replace('secret', value)}`));
  }
  if (at) out = replaceEmails(out, replace);
  if (digits >= 13) out = out.replace(CARD, (m) => (isCardNumber(m) ? replace('card', m) : m));
  if (colon) out = out.replace(IPV6_CANDIDATE, (m) => (likelyAddress(m) && isIPv6(m) ? replace('ip', m) : m));
  if (dots >= 3 && digits >= 4) out = out.replace(IPV4, (m) => replace('ip', m));
  if (digits >= 8) out = out.replace(PHONE, (m) => (phoneDigits(m) ? replace('phone', m) : m));
  return out;
}

/** `[kind]`: the redacting replacement. */
export const redact: Replace = (kind) => `[${kind}]`;
