import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Language, type Node, Parser, type Tree } from 'web-tree-sitter';

/**
 * Offline Bicep reading for the infra checks: the tree-sitter Bicep grammar (npm
 * tree-sitter-bicep, its prebuilt .wasm) run by web-tree-sitter. It checks syntax and lets the
 * contract tests look at declarations instead of grepping text. It does not type-check, resolve
 * modules or validate resource schemas: that needs the real Bicep compiler (`az bicep build`).
 */
export const REPO_ROOT = path.resolve(__dirname, '../..');
export const INFRA_DIR = path.join(REPO_ROOT, 'infra');

let parserPromise: Promise<Parser> | undefined;

export function bicepParser(): Promise<Parser> {
  parserPromise ??= (async () => {
    await Parser.init();
    const require = createRequire(__filename);
    const language = await Language.load(require.resolve('tree-sitter-bicep/tree-sitter-bicep.wasm'));
    const parser = new Parser();
    parser.setLanguage(language);
    return parser;
  })();
  return parserPromise;
}

export interface SyntaxProblem {
  line: number;
  column: number;
  kind: 'error' | 'missing';
  text: string;
}

export interface BicepFile {
  path: string;
  source: string;
  tree: Tree;
}

export async function parseBicep(source: string, filePath = '<inline>'): Promise<BicepFile> {
  const parser = await bicepParser();
  const tree = parser.parse(source);
  if (!tree) throw new Error(`tree-sitter returned no tree for ${filePath}`);
  return { path: filePath, source, tree };
}

export async function readBicep(filePath: string): Promise<BicepFile> {
  return parseBicep(readFileSync(filePath, 'utf8'), filePath);
}

/** Every .bicep file under infra/, sorted. */
export function bicepFiles(dir = INFRA_DIR): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...bicepFiles(full));
    else if (entry.name.endsWith('.bicep')) found.push(full);
  }
  return found.sort();
}

function* walk(node: Node): Generator<Node> {
  yield node;
  for (const child of node.children) {
    if (child) yield* walk(child);
  }
}

export function syntaxProblems(file: BicepFile): SyntaxProblem[] {
  const problems: SyntaxProblem[] = [];
  for (const node of walk(file.tree.rootNode)) {
    if (node.isError || node.isMissing) {
      problems.push({
        line: node.startPosition.row + 1,
        column: node.startPosition.column + 1,
        kind: node.isMissing ? 'missing' : 'error',
        text: node.isMissing ? node.type : node.text.slice(0, 80),
      });
    }
  }
  return problems;
}

/** The text of a Bicep string literal without quotes (interpolations kept as written), or undefined. */
export function stringValue(node: Node): string | undefined {
  if (node.type !== 'string') return undefined;
  const text = node.text;
  return text.startsWith("'''") ? text.slice(3, -3) : text.slice(1, -1);
}

/** Every string literal in the file, unquoted. */
export function stringLiterals(file: BicepFile): string[] {
  return [...walk(file.tree.rootNode)].filter((n) => n.type === 'string').map((n) => stringValue(n) ?? '');
}

function declarationName(node: Node): string | undefined {
  return node.children.find((c) => c?.type === 'identifier')?.text;
}

/** The value expression of `var <name> = <expr>`. */
export function variableValue(file: BicepFile, name: string): Node | undefined {
  for (const node of file.tree.rootNode.children) {
    if (node?.type === 'variable_declaration' && declarationName(node) === name) {
      const children = node.children.filter((c): c is Node => c !== null);
      return children[children.length - 1];
    }
  }
  return undefined;
}

/** Keys and value expressions of an object literal. */
export function objectProperties(node: Node): Map<string, Node> {
  const properties = new Map<string, Node>();
  if (node.type !== 'object') return properties;
  for (const property of node.children) {
    if (property?.type !== 'object_property') continue;
    const [key, ...rest] = property.children.filter((c): c is Node => c !== null && c.type !== ':');
    if (!key) continue;
    const value = rest[rest.length - 1];
    const keyText = key.type === 'string' ? (stringValue(key) ?? key.text) : key.text;
    if (value) properties.set(keyText, value);
  }
  return properties;
}

/** Names of parameters marked @secure(). */
export function secureParameters(file: BicepFile): string[] {
  const names: string[] = [];
  const top = file.tree.rootNode.children.filter((c): c is Node => c !== null);
  top.forEach((node, index) => {
    if (node.type !== 'parameter_declaration') return;
    const before = top[index - 1];
    if (before?.type === 'decorators' && /@secure\(\)/.test(before.text)) {
      const name = declarationName(node);
      if (name) names.push(name);
    }
  });
  return names;
}

/** Arguments of every call to `fn` (e.g. loadJsonContent), as unquoted strings where they are literals. */
export function callArguments(file: BicepFile, fn: string): string[][] {
  const calls: string[][] = [];
  for (const node of walk(file.tree.rootNode)) {
    if (node.type !== 'call_expression') continue;
    if (node.childForFieldName('function')?.text !== fn) continue;
    const args = node.childForFieldName('arguments');
    calls.push(
      (args?.children ?? [])
        .filter((c): c is Node => c !== null && c.type !== '(' && c.type !== ')' && c.type !== ',')
        .map((c) => stringValue(c) ?? c.text),
    );
  }
  return calls;
}

/** Top-level declarations of a kind (param, var, resource, module, output) by name. */
export function declarations(file: BicepFile, type: string): Map<string, Node> {
  const found = new Map<string, Node>();
  for (const node of file.tree.rootNode.children) {
    if (node?.type === type) {
      const name = declarationName(node);
      if (name) found.set(name, node);
    }
  }
  return found;
}

/** The string values of a parameter's `@allowed([...])` decorator, or undefined when it has none. */
export function allowedValues(file: BicepFile, parameter: string): string[] | undefined {
  const top = file.tree.rootNode.children.filter((c): c is Node => c !== null);
  const index = top.findIndex((n) => n.type === 'parameter_declaration' && declarationName(n) === parameter);
  const before = top[index - 1];
  if (index < 0 || before?.type !== 'decorators') return undefined;
  for (const decorator of before.children) {
    if (!decorator?.text.startsWith('@allowed(')) continue;
    return [...walk(decorator)].filter((n) => n.type === 'string').map((n) => stringValue(n) ?? '');
  }
  return undefined;
}

/** Whether a parameter declaration has a default value (`param x string = ...`). */
export function hasDefault(node: Node): boolean {
  return node.children.some((c) => c?.type === '=');
}

/** Identifier nodes with this name anywhere in the file (references and declarations). */
export function identifierUses(file: BicepFile, name: string): Node[] {
  return [...walk(file.tree.rootNode)].filter((n) => n.type === 'identifier' && n.text === name);
}
