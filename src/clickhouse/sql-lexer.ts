// Owns splitting ClickHouse SQL text into tokens (words, quoted names, strings, numbers, parameters, punctuation).

export type TokenKind = 'word' | 'quoted' | 'string' | 'number' | 'param' | 'punct';

export interface Token {
  kind: TokenKind;
  /** Words as written; quoted names and strings unescaped; parameters as `name:Type`. */
  value: string;
  /** Offset of the token's first character in the text. */
  start: number;
}

/**
 * Tokens of `sql`, comments and white space dropped. The grammar is ClickHouse's lexical one: `'…'` strings with
 * backslash escapes and doubled quotes, `` `…` `` and `"…"` quoted names, `--`, `#` and `/* *\/` comments, and
 * `{name:Type}` query parameters. Unterminated strings or comments end the text (the engine's parser reports those).
 */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if ((c === '-' && sql[i + 1] === '-') || c === '#') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? n : end + 1;
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? n : end + 2;
      continue;
    }
    if (c === "'" || c === '`' || c === '"') {
      const { value, next } = readQuoted(sql, i, c);
      tokens.push({ kind: c === "'" ? 'string' : 'quoted', value, start: i });
      i = next;
      continue;
    }
    if (c === '{') {
      const end = sql.indexOf('}', i);
      if (end !== -1 && /^\{\s*[A-Za-z_][A-Za-z0-9_]*\s*:/.test(sql.slice(i, end + 1))) {
        tokens.push({ kind: 'param', value: sql.slice(i + 1, end).replace(/\s+/g, ''), start: i });
        i = end + 1;
        continue;
      }
    }
    const word = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(sql.slice(i, i + 256));
    if (word) {
      tokens.push({ kind: 'word', value: word[0], start: i });
      i += word[0].length;
      continue;
    }
    const number = /^(?:0x[0-9A-Fa-f]+|0b[01]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)/.exec(sql.slice(i, i + 256));
    if (number) {
      tokens.push({ kind: 'number', value: number[0], start: i });
      i += number[0].length;
      continue;
    }
    tokens.push({ kind: 'punct', value: c, start: i });
    i++;
  }
  return tokens;
}

function readQuoted(sql: string, start: number, quote: string): { value: string; next: number } {
  let out = '';
  let i = start + 1;
  while (i < sql.length) {
    const c = sql[i] as string;
    if (c === '\\' && i + 1 < sql.length) {
      out += unescapeOne(sql, i);
      i += escapeLength(sql, i);
      continue;
    }
    if (c === quote) {
      if (sql[i + 1] === quote) {
        out += quote;
        i += 2;
        continue;
      }
      return { value: out, next: i + 1 };
    }
    out += c;
    i++;
  }
  return { value: out, next: sql.length };
}

const SIMPLE_ESCAPES: Record<string, string> = { b: '\b', f: '\f', r: '\r', n: '\n', t: '\t', '0': '\0', a: '\x07', v: '\v', e: '\x1b' };

function unescapeOne(text: string, at: number): string {
  const next = text[at + 1] as string;
  if (next === 'x' && /^[0-9A-Fa-f]{2}$/.test(text.slice(at + 2, at + 4))) return String.fromCharCode(parseInt(text.slice(at + 2, at + 4), 16));
  return SIMPLE_ESCAPES[next] ?? next;
}

function escapeLength(text: string, at: number): number {
  return text[at + 1] === 'x' && /^[0-9A-Fa-f]{2}$/.test(text.slice(at + 2, at + 4)) ? 4 : 2;
}

/**
 * Decodes a value in ClickHouse's escaped text form, as the HTTP interface takes `param_<name>` values: `\t`, `\n`,
 * `\\`, `\'`, `\xHH` and the other backslash escapes of the TabSeparated format. Bytes from `\xHH` escapes are put
 * back together as UTF-8.
 */
export function unescapeParam(value: string): string {
  if (!value.includes('\\')) return value;
  const bytes: number[] = [];
  let i = 0;
  while (i < value.length) {
    const c = value[i] as string;
    if (c === '\\' && i + 1 < value.length) {
      const hex = value[i + 1] === 'x' && /^[0-9A-Fa-f]{2}$/.test(value.slice(i + 2, i + 4));
      if (hex) bytes.push(parseInt(value.slice(i + 2, i + 4), 16));
      else bytes.push(...Buffer.from(unescapeOne(value, i), 'utf8'));
      i += escapeLength(value, i);
      continue;
    }
    const code = value.codePointAt(i) as number;
    const char = String.fromCodePoint(code);
    bytes.push(...Buffer.from(char, 'utf8'));
    i += char.length;
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Encodes a value for a `param_<name>` URL parameter, the inverse of unescapeParam. */
export function escapeParam(value: string): string {
  return value.replace(/[\\\t\n\r\0\b\f]/g, (c) => PARAM_ESCAPES[c] ?? c);
}

const PARAM_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0', '\b': '\\b', '\f': '\\f' };

/** Upper-cased words from the start of the statement, up to `count` of them (its kind: `CREATE TEMPORARY TABLE`). */
export function leadingKeywords(tokens: Token[], count = 4): string[] {
  const out: string[] = [];
  for (const token of tokens) {
    if (token.kind !== 'word' || out.length >= count) break;
    out.push(token.value.toUpperCase());
  }
  return out;
}

/** Where the word sequence `words` (case-insensitive) occurs as consecutive word tokens. */
export function findWords(tokens: Token[], ...words: string[]): number[] {
  const at: number[] = [];
  outer: for (let i = 0; i + words.length <= tokens.length; i++) {
    for (let j = 0; j < words.length; j++) {
      const token = tokens[i + j] as Token;
      if (token.kind !== 'word' || token.value.toUpperCase() !== words[j]) continue outer;
    }
    at.push(i);
  }
  return at;
}

/** Every `name = value` assignment after each SETTINGS keyword (and after a leading SET): the settings a statement asks for. */
export function settingAssignments(tokens: Token[]): Array<{ name: string; value: string }> {
  const out: Array<{ name: string; value: string }> = [];
  const starts = findWords(tokens, 'SETTINGS');
  const first = tokens[0];
  if (first?.kind === 'word' && first.value.toUpperCase() === 'SET') starts.push(0);
  for (const start of starts) {
    let i = start + 1;
    for (;;) {
      const name = tokens[i];
      const eq = tokens[i + 1];
      if (!name || (name.kind !== 'word' && name.kind !== 'quoted') || eq?.kind !== 'punct' || eq.value !== '=') break;
      const valueTokens: Token[] = [];
      let j = i + 2;
      let depth = 0;
      while (j < tokens.length) {
        const t = tokens[j] as Token;
        if (t.kind === 'punct' && (t.value === '(' || t.value === '[')) depth++;
        if (t.kind === 'punct' && (t.value === ')' || t.value === ']')) depth--;
        if (depth < 0 || (depth === 0 && t.kind === 'punct' && t.value === ',')) break;
        if (depth === 0 && t.kind === 'word' && /^(FORMAT|SETTINGS|INTO|UNION|EXCEPT|INTERSECT)$/i.test(t.value)) break;
        valueTokens.push(t);
        j++;
      }
      out.push({ name: name.value, value: valueTokens.map((t) => t.value).join('') });
      const comma = tokens[j];
      if (comma?.kind !== 'punct' || comma.value !== ',') break;
      i = j + 1;
    }
  }
  return out;
}

/** Each `a.b` pair of names (words or quoted names joined by a dot): the places a statement may name a database. */
export function qualifiedNames(tokens: Token[]): Array<{ qualifier: string; name: string }> {
  const out: Array<{ qualifier: string; name: string }> = [];
  for (let i = 0; i + 2 < tokens.length; i++) {
    const a = tokens[i] as Token;
    const dot = tokens[i + 1] as Token;
    const b = tokens[i + 2] as Token;
    if ((a.kind === 'word' || a.kind === 'quoted') && dot.kind === 'punct' && dot.value === '.' && (b.kind === 'word' || b.kind === 'quoted')) {
      out.push({ qualifier: a.value, name: b.value });
    }
  }
  return out;
}
