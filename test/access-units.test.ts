import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseExplainAst, walk } from '../src/clickhouse/explain-ast.js';
import { escapeParam, findWords, leadingKeywords, qualifiedNames, settingAssignments, tokenize, unescapeParam } from '../src/clickhouse/sql-lexer.js';
import { SessionStore } from '../src/engine/embedded/access/sessions.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261126);

describe('the SQL lexer the access policy reads statements with', () => {
  it('keeps strings, quoted names and comments apart from the words around them', () => {
    const tokens = tokenize("SELECT 'INTO OUTFILE', `system`.users /* SETTINGS x = 1 */ -- FROM INFILE\nFROM {t:Identifier}");
    expect(tokens.map((t) => `${t.kind}:${t.value}`)).toEqual(['word:SELECT', 'string:INTO OUTFILE', 'punct:,', 'quoted:system', 'punct:.', 'word:users', 'word:FROM', 'param:t:Identifier']);
    expect(findWords(tokens, 'INTO', 'OUTFILE')).toEqual([]);
  });

  it('unescapes strings with backslashes and doubled quotes', () => {
    expect(tokenize("'o\\'brien' 'it''s' 'a\\tb' '\\x41'").map((t) => t.value)).toEqual(["o'brien", "it's", 'a\tb', 'A']);
  });

  it('reads the settings of SETTINGS clauses and of SET', () => {
    expect(settingAssignments(tokenize("SELECT 1 SETTINGS max_threads = 2, readonly = 0 FORMAT JSON"))).toEqual([
      { name: 'max_threads', value: '2' },
      { name: 'readonly', value: '0' },
    ]);
    expect(settingAssignments(tokenize("SET result_overflow_mode = 'throw', max_result_rows = 2"))).toEqual([
      { name: 'result_overflow_mode', value: 'throw' },
      { name: 'max_result_rows', value: '2' },
    ]);
    expect(settingAssignments(tokenize('SELECT settings FROM t'))).toEqual([]);
  });

  it('finds qualified names and leading keywords', () => {
    const tokens = tokenize('CREATE MATERIALIZED VIEW telemetry.mv TO `default`.x AS SELECT a.b FROM system.users AS a');
    expect(leadingKeywords(tokens, 3)).toEqual(['CREATE', 'MATERIALIZED', 'VIEW']);
    expect(qualifiedNames(tokens)).toEqual([
      { qualifier: 'telemetry', name: 'mv' },
      { qualifier: 'default', name: 'x' },
      { qualifier: 'a', name: 'b' },
      { qualifier: 'system', name: 'users' },
    ]);
  });

  it('escapes and unescapes query parameters as inverse functions, for any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (value) => unescapeParam(escapeParam(value)) === value),
      { seed: SEED, numRuns: 2000 },
    );
    expect(unescapeParam("o\\'brien\\tx\\\\y\\n")).toBe("o'brien\tx\\y\n");
    expect(unescapeParam('\\xC3\\xA9')).toBe('é');
  });
});

describe('the EXPLAIN AST reader', () => {
  it('builds the tree with types, names, aliases and parents', () => {
    const ast = parseExplainAst(
      [
        'SelectWithUnionQuery (children 1)',
        ' ExpressionList (children 1)',
        '  SelectQuery (children 2)',
        '   ExpressionList (children 1)',
        '    Function file (children 1)',
        '     ExpressionList (children 1)',
        "      Literal 'x'",
        '   TablesInSelectQuery (children 1)',
        '    TablesInSelectQueryElement (children 1)',
        '     TableExpression (children 1)',
        '      TableIdentifier system.users (alias u)',
        '',
      ].join('\n'),
    );
    expect(ast.type).toBe('SelectWithUnionQuery');
    const nodes = [...walk(ast)];
    const table = nodes.find((n) => n.type === 'TableIdentifier');
    expect(table).toMatchObject({ args: ['system.users'], alias: 'u' });
    expect(table?.parent?.type).toBe('TableExpression');
    expect(nodes.find((n) => n.type === 'Function')?.parent?.type).toBe('ExpressionList');
    expect(parseExplainAst('SYSTEM query\n').type).toBe('SYSTEM query');
    expect(parseExplainAst('Explain EXPLAIN AST (children 1)\n SelectWithUnionQuery\n')).toMatchObject({ type: 'Explain EXPLAIN', args: ['AST'] });
  });
});

describe('the session store', () => {
  const store = (closed: string[] = []) => new SessionStore(async (s) => void closed.push(s.id), { timeoutSeconds: 60, maxTimeoutSeconds: 3600, maxSessions: 2 });

  it('keys sessions by user and id, locks a busy one, and expires idle ones after their timeout', async () => {
    const closed: string[] = [];
    const sessions = store(closed);
    const a = await sessions.acquire('alice', 's', { timeout: '1' }, 0);
    await expect(sessions.acquire('alice', 's', {}, 10)).rejects.toMatchObject({ serverCode: 373 });
    const b = await sessions.acquire('bob', 's', {}, 10);
    expect(b).not.toBe(a);
    sessions.release(a, 100);
    sessions.release(b, 100);
    await sessions.expire(1_200);
    expect(closed).toEqual(['s']);
    await expect(sessions.acquire('alice', 's', { check: true }, 1_300)).rejects.toMatchObject({ serverCode: 372 });
  });

  it('refuses a timeout beyond the maximum, and closes the longest idle session past the bound', async () => {
    const closed: string[] = [];
    const sessions = store(closed);
    await expect(sessions.acquire('u', 'x', { timeout: '3601' })).rejects.toMatchObject({ serverCode: 374 });
    await expect(sessions.acquire('u', 'x', { timeout: 'soon' })).rejects.toMatchObject({ serverCode: 374 });
    for (const [id, at] of [['one', 1], ['two', 2]] as const) sessions.release(await sessions.acquire('u', id, {}, at), at);
    sessions.release(await sessions.acquire('u', 'three', {}, 3), 3);
    expect(closed).toEqual(['one']);
    expect(sessions.size).toBe(2);
  });
});
