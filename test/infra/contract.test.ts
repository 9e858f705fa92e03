import { type Dirent, existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SUPPORTED_REGIONS } from '../../shared/catalog';
import { CONTAINERS, RESOURCES, TABLES } from '../../shared/config/resources';
import resourcesJson from '../../shared/config/resources.json';
import { SETTINGS, type SettingName } from '../../shared/config/settings';
import { SUBSCRIPTIONS, TOPOLOGY } from '../../shared/events/topology';
import topologyJson from '../../shared/events/topology.json';
import { EVENT_TYPES } from '../../shared/events/types';
import { MANIFEST_NAME } from '../../shared/pipeline/submit';
import {
  allowedValues,
  type BicepFile,
  bicepFiles,
  callArguments,
  declarations,
  hasDefault,
  INFRA_DIR,
  identifierUses,
  objectProperties,
  REPO_ROOT,
  readBicep,
  secureParameters,
  stringLiterals,
  stringValue,
  variableValue,
} from './bicep';

/**
 * The contract between the code and infra/: the settings the code reads, the Service Bus
 * topology and the storage names are defined once (shared/) and Bicep must consume those
 * definitions, not copies of them.
 */
let main: BicepFile;
let api: BicepFile;
let serviceBus: BicepFile;
let storage: BicepFile;
let all: BicepFile[];

beforeAll(async () => {
  main = await readBicep(path.join(INFRA_DIR, 'main.bicep'));
  api = await readBicep(path.join(INFRA_DIR, 'app/api.bicep'));
  serviceBus = await readBicep(path.join(INFRA_DIR, 'app/servicebus.bicep'));
  storage = await readBicep(path.join(INFRA_DIR, 'app/storage.bicep'));
  all = await Promise.all(bicepFiles().map((f) => readBicep(f)));
});

const settingNames = Object.keys(SETTINGS) as SettingName[];
const azureSettings = settingNames.filter((name) => SETTINGS[name].azure);

/** App settings Bicep sets: tunedrop's (main.bicep) and the host's (api.bicep), name → value expression. */
function appSettings(): Map<string, string> {
  const tunedrop = variableValue(main, 'tunedropSettings');
  const host = variableValue(api, 'hostSettings');
  if (!tunedrop || !host) throw new Error('main.bicep var tunedropSettings or api.bicep var hostSettings is missing');
  const settings = new Map<string, string>();
  for (const [key, value] of [...objectProperties(tunedrop), ...objectProperties(host)]) settings.set(key, value.text);
  return settings;
}

function loadedJsonFiles(file: BicepFile): string[] {
  return callArguments(file, 'loadJsonContent').map(([arg]) => path.resolve(path.dirname(file.path), arg ?? ''));
}

describe('app settings: shared/config/settings.ts ⇄ Bicep', () => {
  it('sets every setting the code reads in Azure (azure: true)', () => {
    const set = appSettings();
    const missing = azureSettings.filter((name) => !set.has(name));
    expect(missing).toEqual([]);
    expect(azureSettings.length).toBeGreaterThan(10);
  });

  it('sets only settings the code knows among tunedrop settings (no typos)', () => {
    const tunedrop = objectProperties(variableValue(main, 'tunedropSettings')!);
    const unknown = [...tunedrop.keys()].filter((key) => !(key in SETTINGS));
    expect(unknown).toEqual([]);
  });

  it('never sets a local-only connection string (it would override the identity-based connection)', () => {
    const set = appSettings();
    const localOnly = settingNames.filter((name) => !SETTINGS[name].azure);
    expect(localOnly.filter((name) => set.has(name))).toEqual([]);
  });

  it('uses identity-based connections for storage and Service Bus', () => {
    const set = appSettings();
    expect(set.get('AzureWebJobsStorage__credential')).toBe("'managedidentity'");
    expect(set.get('ServiceBusConnection__credential')).toBe("'managedidentity'");
  });

  it('sets secret settings only as Key Vault references', () => {
    const set = appSettings();
    const secure = secureParameters(main);
    expect(secure).toContain('databricksToken');
    for (const name of azureSettings.filter((n) => 'secret' in SETTINGS[n] && SETTINGS[n].secret)) {
      const value = set.get(name) ?? '';
      expect(value, name).toContain('@Microsoft.KeyVault(SecretUri=');
      // The secret itself may only be tested for emptiness, never placed in the setting.
      const withoutEmptinessChecks = value.replace(/empty\(\s*\w+\s*\)/g, '');
      for (const parameter of secure)
        expect(withoutEmptinessChecks, name).not.toMatch(new RegExp(`\\b${parameter}\\b`));
    }
  });

  it('passes secure parameters only to Key Vault or to an emptiness check, never to outputs', () => {
    const keyVault = declarations(main, 'module_declaration').get('keyVault');
    expect(keyVault).toBeDefined();
    for (const parameter of secureParameters(main)) {
      const uses = identifierUses(main, parameter).filter((n) => n.parent?.type !== 'parameter_declaration');
      expect(uses.length).toBeGreaterThan(0);
      for (const use of uses) {
        const inEmptyCheck =
          use.parent?.parent?.type === 'call_expression' && use.parent.parent.text.startsWith('empty(');
        const inKeyVault = use.startIndex >= keyVault!.startIndex && use.endIndex <= keyVault!.endIndex;
        expect(inEmptyCheck || inKeyVault, `${parameter} at line ${use.startPosition.row + 1}`).toBe(true);
      }
    }
  });

  it('uses the GA extension bundle [4.*, 5.0.0) (Durable Task Scheduler included; docs/host-json.md)', () => {
    const hostJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'host.json'), 'utf8')) as {
      extensionBundle: { id: string; version: string };
    };
    expect(hostJson.extensionBundle).toEqual({
      id: 'Microsoft.Azure.Functions.ExtensionBundle',
      version: '[4.*, 5.0.0)',
    });
  });

  it('resolves every %SETTING% in host.json to a setting Bicep sets', () => {
    const hostJson = readFileSync(path.join(REPO_ROOT, 'host.json'), 'utf8');
    const referenced = [...hostJson.matchAll(/%([A-Za-z0-9_]+)%/g)].map((m) => m[1]);
    expect(referenced).toContain('TUNEDROP_TASK_HUB');
    const set = appSettings();
    expect(referenced.filter((name) => name && !set.has(name))).toEqual([]);
  });
});

describe('Service Bus: shared/events/topology.json ⇄ Bicep', () => {
  it('loads the very file the code uses', () => {
    expect(loadedJsonFiles(serviceBus)).toEqual([path.join(REPO_ROOT, 'shared/events/topology.json')]);
    // …and the code's TOPOLOGY is that file, parsed, with nothing added.
    const { $comment: _, ...json } = topologyJson as typeof topologyJson & { $comment?: string };
    expect(JSON.parse(JSON.stringify(TOPOLOGY))).toEqual(json);
  });

  it('copies no topic, subscription or rule name into any Bicep file', () => {
    const names = new Set([
      TOPOLOGY.topic.name,
      ...TOPOLOGY.subscriptions.map((s) => s.name),
      ...TOPOLOGY.subscriptions.flatMap((s) => s.rules.map((r) => r.name)),
    ]);
    for (const file of all) {
      const copied = stringLiterals(file).filter((literal) => names.has(literal));
      expect(copied, path.relative(INFRA_DIR, file.path)).toEqual([]);
    }
  });

  it('creates the topic with every topic property the file defines', () => {
    for (const key of Object.keys(TOPOLOGY.topic).filter((k) => k !== 'name')) {
      expect(serviceBus.source, `topic.${key}`).toContain(`${key}: topology.topic.${key}`);
    }
    expect(serviceBus.source).toContain('name: topology.topic.name');
  });

  it('creates every subscription with every property the file defines', () => {
    expect(serviceBus.source).toMatch(/\[\s*for subscription in topology\.subscriptions:/);
    const keys = new Set(TOPOLOGY.subscriptions.flatMap((s) => Object.keys(s)));
    for (const key of [...keys].filter((k) => k !== 'name' && k !== 'rules')) {
      expect(serviceBus.source, `subscription.${key}`).toContain(`${key}: subscription.${key}`);
    }
  });

  it('creates every rule of every subscription, with the filter fields the file uses', () => {
    expect(serviceBus.source).toMatch(/map\(subscription\.rules,/);
    expect(serviceBus.source).toMatch(/\[\s*for entry in rules:/);
    const rules = TOPOLOGY.subscriptions.flatMap((s) => s.rules);
    for (const rule of rules) {
      if (rule.sqlFilter) expect(serviceBus.source).toContain('sqlExpression: entry.rule.sqlFilter');
      for (const key of Object.keys(rule.correlationFilter ?? {})) {
        expect(serviceBus.source, `correlationFilter.${key}`).toMatch(
          new RegExp(`entry\\.rule\\.correlationFilter\\.\\?${key}\\b`),
        );
      }
    }
    // Service Bus calls the correlation filter's subject "label".
    expect(serviceBus.source).toContain('label: entry.rule.correlationFilter.?subject');
  });

  it('filters only on what the publisher sets, so no rule Bicep creates can silently match nothing', () => {
    // shared/events/publisher.ts toServiceBusMessage: application properties type, team, model.
    const published = new Set(['type', 'team', 'model']);
    for (const subscription of TOPOLOGY.subscriptions) {
      for (const rule of subscription.rules) {
        const properties = rule.correlationFilter?.properties ?? {};
        expect(
          Object.keys(properties).filter((key) => !published.has(key)),
          rule.name,
        ).toEqual([]);
        if ('type' in properties) expect(EVENT_TYPES as readonly unknown[], rule.name).toContain(properties.type);
      }
    }
    // The code's own names for the subscriptions are the file's.
    expect(Object.values(SUBSCRIPTIONS).sort()).toEqual(TOPOLOGY.subscriptions.map((s) => s.name).sort());
  });

  it('has a hook that removes the $Default catch-all rule ARM adds, for subscriptions that do not declare it', () => {
    const hook = readFileSync(path.join(INFRA_DIR, 'scripts/postprovision.sh'), 'utf8');
    expect(hook).toContain('shared/events/topology.json');
    expect(hook).toContain('rule delete');
    expect(TOPOLOGY.subscriptions.some((s) => s.rules.some((r) => r.name === '$Default'))).toBe(false);
  });
});

describe('Storage: shared/config/resources.json ⇄ Bicep ⇄ code', () => {
  it('loads the very file the code uses', () => {
    expect(loadedJsonFiles(storage)).toEqual([path.join(REPO_ROOT, 'shared/config/resources.json')]);
    expect(loadedJsonFiles(main)).toContain(path.join(REPO_ROOT, 'shared/config/resources.json'));
    const { $comment: _, ...json } = resourcesJson as typeof resourcesJson & { $comment?: string };
    expect(RESOURCES).toEqual(json);
  });

  it('creates every container and every table the file lists', () => {
    expect(storage.source).toContain('items(resources.containers)');
    expect(storage.source).toContain('items(resources.tables)');
    expect(storage.source).toMatch(/\[\s*for tableName in tableNames:/);
    expect(Object.keys(CONTAINERS).length).toBe(3);
    expect(Object.keys(TABLES).length).toBeGreaterThanOrEqual(2);
  });

  it('copies no container or table name into any Bicep file', () => {
    const names = new Set([...Object.values(CONTAINERS), ...Object.values(TABLES)]);
    for (const file of all) {
      const copied = stringLiterals(file).filter((literal) => names.has(literal));
      expect(copied, path.relative(INFRA_DIR, file.path)).toEqual([]);
    }
  });

  it('names no container or table with a literal in the code (outside the local runtime)', () => {
    const offenders: string[] = [];
    const tableLiterals = Object.values(TABLES).map((t) => new RegExp(`['"\`]${t}['"\`]`));
    const literalClient =
      /getContainerClient\(\s*['"`]|getTableClient\(\s*['"`]|new TableClient\([^)]*,\s*['"`]|TableClient\.fromConnectionString\([^,]+,\s*['"`]/;
    for (const file of codeFiles()) {
      const source = readFileSync(file, 'utf8');
      if (literalClient.test(source)) offenders.push(`${path.relative(REPO_ROOT, file)}: literal container/table name`);
      for (const pattern of tableLiterals) {
        if (pattern.test(source)) offenders.push(`${path.relative(REPO_ROOT, file)}: ${pattern.source}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});

describe('deployment wiring', () => {
  it('restricts location (and the Databricks region) to the regions the catalog supports', () => {
    expect(allowedValues(main, 'location')).toEqual([...SUPPORTED_REGIONS]);
    expect(allowedValues(main, 'databricksRegion')).toEqual(['', ...SUPPORTED_REGIONS]);
  });

  it('main.parameters.json supplies every parameter without a default and nothing unknown', () => {
    const parametersFile = JSON.parse(readFileSync(path.join(INFRA_DIR, 'main.parameters.json'), 'utf8')) as {
      parameters: Record<string, { value: unknown }>;
    };
    const parameters = declarations(main, 'parameter_declaration');
    const supplied = Object.keys(parametersFile.parameters);
    const required = [...parameters].filter(([, node]) => !hasDefault(node)).map(([name]) => name);
    expect(required.filter((name) => !supplied.includes(name))).toEqual([]);
    expect(supplied.filter((name) => !parameters.has(name))).toEqual([]);
  });

  it('outputs every variable the azd hooks require', () => {
    const outputs = declarations(main, 'output_declaration');
    for (const script of ['lib.sh', 'postprovision.sh', 'postdeploy.sh']) {
      const source = readFileSync(path.join(INFRA_DIR, 'scripts', script), 'utf8');
      const required = [...source.matchAll(/\$\{([A-Z_][A-Z0-9_]*):\?/g)].map((m) => m[1] ?? '');
      expect(required.length, script).toBeGreaterThan(0);
      expect(
        required.filter((name) => !outputs.has(name)),
        script,
      ).toEqual([]);
    }
  });

  it('filters Event Grid to the manifest the code commits a drop with, in the container Bicep creates', () => {
    const manifest = variableValue(main, 'manifestName');
    expect(manifest && stringValue(manifest)).toBe(MANIFEST_NAME);
    expect(main.source).toMatch(/output DATASETS_CONTAINER_NAME string = resources\.containers\.datasets/);
    expect(main.source).toMatch(/output MANIFEST_NAME string = manifestName/);
  });

  it('tags the function app with the azd service name azure.yaml deploys', () => {
    const azureYaml = readFileSync(path.join(REPO_ROOT, 'azure.yaml'), 'utf8');
    const servicesBlock = /^services:\n((?: .*\n|\s*\n)*)/m.exec(azureYaml)?.[1] ?? '';
    const services = [...servicesBlock.matchAll(/^ {2}([a-z][a-z0-9-]*):\s*$/gm)].map((m) => m[1]);
    expect(services).toEqual(['api']);
    expect(azureYaml).toMatch(/host: function/);
    expect(api.source).toContain("'azd-service-name': serviceName");
    expect(main.source).toMatch(/serviceName: 'api'/);
  });

  it('deploys the local package: remoteBuild false, azd zips the folder npm run package stages', () => {
    const azureYaml = readFileSync(path.join(REPO_ROOT, 'azure.yaml'), 'utf8');
    const service = /^ {2}api:\n((?: {4,}.*\n)*)/m.exec(azureYaml)?.[1] ?? '';
    expect(service).toMatch(/^ {4}remoteBuild: false$/m);
    const dist = /^ {4}dist: (\S+)$/m.exec(service)?.[1];
    // scripts/package.ts stages next to its default zip, .tunedrop/package/tunedrop-app.zip.
    const packageScript = readFileSync(path.join(REPO_ROOT, 'scripts/package.ts'), 'utf8');
    expect(packageScript).toContain("path.join(REPO, '.tunedrop', 'package', 'tunedrop-app.zip')");
    expect(packageScript).toContain("path.join(path.dirname(out), 'staging')");
    expect(dist).toBe('.tunedrop/package/staging');
    // The staging folder is kept for azd to zip, and built before azd packages.
    expect(service).toMatch(/^ {6}prepackage:\n(?: {8}.*\n)*? {8}run: npm run package -- --keep-staging$/m);
    expect(packageScript).toContain("'keep-staging'");
  });

  it('keeps .funcignore compatible with remoteBuild: false (azd refuses it while node_modules is excluded)', () => {
    // azd resolveFunctionAppRemoteBuild reads the project's .funcignore (gitignore syntax).
    const ignored = readFileSync(path.join(REPO_ROOT, '.funcignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignored.filter((l) => /^\/?(\*\*\/)?node_modules\/?(\*\*)?$/.test(l))).toEqual([]);
    // What Core Tools would leave out still excludes the local tooling and never the app.
    for (const kept of ['dist', 'host.json', 'package.json', 'package-lock.json'])
      expect(ignored, kept).not.toContain(kept);
    for (const dropped of ['test', 'local', 'cli', 'emulators', 'local.settings.json', 'infra'])
      expect(ignored).toContain(dropped);
    const packageJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { main: string };
    expect(packageJson.main.startsWith('dist/')).toBe(true);
  });
});

function codeFiles(): string[] {
  const roots = ['functions', 'shared'].map((d) => path.join(REPO_ROOT, d)).filter((d) => existsSync(d));
  const files: string[] = [];
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }) as Dirent[]) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        visit(full);
      } else if (entry.name.endsWith('.ts')) files.push(full);
    }
  };
  roots.forEach(visit);
  return files;
}
