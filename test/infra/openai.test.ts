import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AZURE_OPENAI_FINE_TUNABLE,
  AZURE_OPENAI_GLOBAL_TRAINING_REGIONS,
  AZURE_OPENAI_TRAINING_TYPES,
  TRAINING_PROVIDERS,
} from '../../shared/catalog';
import { SETTINGS } from '../../shared/config/settings';
import {
  allowedValues,
  type BicepFile,
  declarations,
  INFRA_DIR,
  objectProperties,
  readBicep,
  syntaxProblems,
  variableValue,
} from './bicep';

/** The azure-openai provider's infra: shared/catalog/azureOpenAI.ts ⇄ infra/app/openai.bicep ⇄ main.bicep. */
let main: BicepFile;
let openai: BicepFile;

beforeAll(async () => {
  main = await readBicep(path.join(INFRA_DIR, 'main.bicep'));
  openai = await readBicep(path.join(INFRA_DIR, 'app/openai.bicep'));
});

describe('Azure OpenAI infra contract', () => {
  it('parses', () => {
    expect(syntaxProblems(openai)).toEqual([]);
    expect(syntaxProblems(main)).toEqual([]);
  });

  it('offers exactly the providers the catalog knows (plus both), default unchanged', () => {
    expect(allowedValues(main, 'trainingProvider')).toEqual([...TRAINING_PROVIDERS, 'both']);
    expect(declarations(main, 'parameter_declaration').get('trainingProvider')?.text).toContain("= 'databricks'");
    expect(allowedValues(main, 'openAiTrainingType')).toEqual([...AZURE_OPENAI_TRAINING_TYPES]);
  });

  it('places the account only in a region that trains the catalog models (Standard or Global training)', () => {
    const catalogRegions = new Set<string>([
      ...AZURE_OPENAI_FINE_TUNABLE.flatMap((m) => m.standardTrainingRegions),
      ...AZURE_OPENAI_GLOBAL_TRAINING_REGIONS,
    ]);
    expect(new Set(allowedValues(main, 'openAiLocation'))).toEqual(catalogRegions);
  });

  it('creates the account with the AVM module, Entra ID only', () => {
    const account = declarations(openai, 'module_declaration').get('account')?.text ?? '';
    expect(account).toMatch(/'br\/public:avm\/res\/cognitive-services\/account:\d+\.\d+\.\d+'/);
    expect(account).toContain("kind: 'OpenAI'");
    expect(account).toContain('disableLocalAuth: true');
    expect(account).toContain('if (!existingAccount)');
  });

  it('grants least privilege: OpenAI Contributor on the account always, Cognitive Services Contributor only with deployments', () => {
    const resources = declarations(openai, 'resource_declaration');
    const dataPlane = resources.get('dataPlane')?.text ?? '';
    const controlPlane = resources.get('controlPlane')?.text ?? '';
    expect(dataPlane).toContain('roles.cognitiveServicesOpenAIContributor');
    expect(dataPlane).toContain('scope: existing');
    expect(dataPlane).not.toMatch(/\bif\s*\(/);
    expect(controlPlane).toContain('roles.cognitiveServicesContributor');
    expect(controlPlane).toContain('if (enableDeployments)');
    const roles = objectProperties(variableValue(openai, 'roles')!);
    expect([...roles.values()].map((v) => v.text)).toEqual([
      "'a001fd3d-188f-4b5d-821b-7da978bf7442'",
      "'25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68'",
    ]);
    // No Owner / Contributor / User Access Administrator anywhere in the module.
    expect(openai.source).not.toMatch(
      /8e3af657-a8ff-443c-a75c-2fe8c4bcb635|b24988ac-6180-42a0-ab88-20f7382dd24c|18d7d88d-d35e-4fb5-a5c3-7773c20a72d9/,
    );
  });

  it('wires the app settings the adapter reads; the account id only when deployments are enabled', () => {
    const settings = objectProperties(variableValue(main, 'tunedropSettings')!);
    for (const name of [
      'AZURE_OPENAI_ENDPOINT',
      'AZURE_OPENAI_REGION',
      'AZURE_OPENAI_TRAINING_TYPE',
      'AZURE_OPENAI_ACCOUNT_ID',
    ] as const) {
      expect(SETTINGS[name].azure, name).toBe(true);
      expect(settings.has(name), name).toBe(true);
    }
    expect(settings.get('AZURE_OPENAI_ACCOUNT_ID')?.text).toContain('openAiDeployments');
    expect(settings.has('AZURE_OPENAI_API_KEY')).toBe(false);
    const module = declarations(main, 'module_declaration').get('openai')?.text ?? '';
    expect(module).toContain("'app/openai.bicep'");
    expect(module).toContain('managedIdentityPrincipalId: apiIdentity.outputs.principalId');
    expect(module).toContain('enableDeployments: openAiDeployments');
  });
});
