import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './bicep';
import { functionContractProblems, loadFunctionRegistrations } from './functionRegistrations';
import { infraFacts } from './infraFacts';

/**
 * functions/ against infra/. The entry points are a fixed list: a missing file is a failure, not
 * a skip, because infra/ and the docs promise these functions (the Event Grid hook targets
 * intake, the three topic subscriptions need their consumers).
 */
const FUNCTIONS_DIR = path.join(REPO_ROOT, 'functions');
const REQUIRED_FUNCTION_FILES = ['intake', 'trainingRun', 'registerModel', 'notifyTeams', 'deliverWebhooks'];

describe('functions/ ⇄ infra/', () => {
  it.each(REQUIRED_FUNCTION_FILES)('functions/%s.ts exists', (name) => {
    expect(existsSync(path.join(FUNCTIONS_DIR, `${name}.ts`))).toBe(true);
  });

  it('registers what infra/ wires: intake on Event Grid, the orchestration and activities, one consumer per subscription, known containers/tables/connections', async () => {
    const [functions, facts] = await Promise.all([loadFunctionRegistrations(FUNCTIONS_DIR), infraFacts()]);
    expect(functionContractProblems(functions, facts)).toEqual([]);
  });
});
