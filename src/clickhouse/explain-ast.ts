// Owns reading the tree that ClickHouse's `EXPLAIN AST` prints: one node a line, nesting by indentation.

export interface AstNode {
  /** Node type as printed: `SelectWithUnionQuery`, `TableIdentifier`, `Function`, `SYSTEM query`, … */
  type: string;
  /** The words after the type (a function's or identifier's name, a query's database and table). */
  args: string[];
  alias: string | undefined;
  depth: number;
  parent: AstNode | undefined;
  children: AstNode[];
}

// Node types whose printed name is two words.
const TWO_WORD_TYPES = new Set(['Columns definition', 'Storage definition', 'Dictionary definition', 'SYSTEM query', 'MOVE USER', 'Explain EXPLAIN']);

/** Parses `EXPLAIN AST` output into a tree; the root is the statement. */
export function parseExplainAst(text: string): AstNode {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const root: AstNode = { type: '', args: [], alias: undefined, depth: -1, parent: undefined, children: [] };
  const stack: AstNode[] = [root];
  for (const line of lines) {
    const depth = line.length - line.trimStart().length;
    let body = line.trim().replace(/\s*\(children \d+\)\s*$/, '');
    let alias: string | undefined;
    const aliased = /\s*\(alias (.*)\)$/.exec(body);
    if (aliased) {
      alias = aliased[1];
      body = body.slice(0, aliased.index);
    }
    const words = body.split(/\s+/).filter((w) => w !== '');
    const pair = words.slice(0, 2).join(' ');
    const typeWords = TWO_WORD_TYPES.has(pair) ? 2 : 1;
    const node: AstNode = {
      type: words.slice(0, typeWords).join(' '),
      args: words.slice(typeWords),
      alias,
      depth,
      parent: undefined,
      children: [],
    };
    while (stack.length > 1 && (stack[stack.length - 1] as AstNode).depth >= depth) stack.pop();
    const parent = stack[stack.length - 1] as AstNode;
    node.parent = parent === root ? undefined : parent;
    parent.children.push(node);
    stack.push(node);
  }
  const statement = root.children[0];
  if (!statement) throw new Error('EXPLAIN AST printed nothing');
  return statement;
}

/** Every node of the tree, depth first. */
export function* walk(node: AstNode): Generator<AstNode> {
  yield node;
  for (const child of node.children) yield* walk(child);
}
