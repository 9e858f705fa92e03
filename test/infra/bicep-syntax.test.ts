import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bicepFiles, INFRA_DIR, parseBicep, readBicep, syntaxProblems } from './bicep';

describe('Bicep syntax (tree-sitter-bicep, offline)', () => {
  const files = bicepFiles();

  it('finds the infra modules', () => {
    const relative = files.map((f) => path.relative(INFRA_DIR, f));
    expect(relative).toEqual(
      expect.arrayContaining([
        'main.bicep',
        'app/api.bicep',
        'app/rbac.bicep',
        'app/servicebus.bicep',
        'app/storage.bicep',
        'app/durable-task-scheduler.bicep',
      ]),
    );
  });

  it.each(files.map((f) => [path.relative(INFRA_DIR, f), f]))('%s parses without syntax errors', async (_, file) => {
    const parsed = await readBicep(file);
    expect(syntaxProblems(parsed)).toEqual([]);
  });

  // The check is only worth something if it fails on broken Bicep.
  it.each([
    [
      'an unclosed object',
      "resource sa 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: 'x'\n  properties: {\n}\n",
    ],
    ['a parameter without a type', 'param location\n'],
    ['a dangling assignment', "param location string = \nvar x = 'y'\n"],
    ['an unterminated string', "var name = 'abc\n"],
    ['a for loop without a body', "resource r 'a/b@1' = [for s in subs: ]\n"],
  ])('reports %s', async (_, source) => {
    const problems = syntaxProblems(await parseBicep(source));
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]?.line).toBeGreaterThanOrEqual(1);
  });

  it('reports a real module with one closing brace removed', async () => {
    const main = await readBicep(path.join(INFRA_DIR, 'main.bicep'));
    const lastBrace = main.source.lastIndexOf('\n}');
    const broken = main.source.slice(0, lastBrace) + main.source.slice(lastBrace + 2);
    expect(syntaxProblems(await parseBicep(broken)).length).toBeGreaterThan(0);
  });

  it('points at the broken line', async () => {
    const source = "param a string\nparam b string\nvar c = {\n  d: 'e'\n  f: \n}\n";
    const problems = syntaxProblems(await parseBicep(source));
    expect(problems.map((p) => p.line)).toContain(5);
  });
});
