import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CONTAINERS } from '../../shared/config/resources';
import { TOPOLOGY } from '../../shared/events/topology';
import { MANIFEST_NAME } from '../../shared/pipeline/submit';
import { INFRA_DIR, REPO_ROOT, readBicep, stringValue, variableValue } from './bicep';
import { type AzCall, type AzRule, callsWithoutSubscription, commandOf, option, RecordingAz } from './recordingAz';
import { roleNames } from './roleAssignments';

/**
 * The azd hooks run for real (sh) against a recording `az` stand-in (test/infra/recordingAz.ts):
 * what reaches Azure (commands, arguments, order), that every call names the subscription, that
 * a failing call fails the hook (or, inside a bounded wait, is shown and retried), and that no
 * key or Key Vault reference is printed.
 */
const SUBSCRIPTION = '00000000-1111-2222-3333-444444444444';
const RESOURCE_GROUP = 'rg-test';
const APP = 'func-api-abc123';
const APP_PRINCIPAL = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const MASTER_KEY = 'fake-master-key-0123456789';
const BLOBS_KEY = 'fake-blobs-extension-key-0123456789';
const HOST = `${APP}.azurewebsites.net`;
const REFERENCE = '@Microsoft.KeyVault(SecretUri=https://kv-abc123.vault.azure.net/secrets/databricks-token/)';
const ROLE = {
  sender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39',
  receiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0',
  owner: '090c5cfd-751d-490a-894a-3ce6f1109419',
};
const roleDefinition = (id: string) =>
  `/subscriptions/${SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/${id}`;

let az: RecordingAz;
let intakeFunctionName: string;
const runs: AzCall[][] = [];

beforeAll(async () => {
  az = new RecordingAz();
  const main = await readBicep(path.join(INFRA_DIR, 'main.bicep'));
  const intake = variableValue(main, 'intakeFunctionName');
  intakeFunctionName = (intake && stringValue(intake)) ?? '';
});

afterAll(() => az.dispose());

// Whatever a scenario scripts, no call may act on "the current subscription".
afterEach(() => {
  for (const calls of runs.splice(0)) expect(callsWithoutSubscription(calls, SUBSCRIPTION)).toEqual([]);
});

function run(
  script: string,
  env: Record<string, string>,
  rules: AzRule[],
  scriptsDir = path.join(INFRA_DIR, 'scripts'),
) {
  const result = az.runHook(path.join(scriptsDir, script), { TUNEDROP_WAIT_SECONDS: '0', ...env }, rules);
  runs.push(result.calls);
  return result;
}

const hostStatus = (state: string, errors: string[] = []): string =>
  JSON.stringify({ id: 'x', properties: { state, version: '4.1040.0', ...(errors.length ? { errors } : {}) } });
const references = (...entries: [string, string][]) =>
  JSON.stringify({
    value: entries.map(([name, status]) => ({
      id: `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.Web/sites/${APP}/config/configreferences/appsettings/${name}`,
      name,
      properties: { reference: REFERENCE, status, details: `Reference ${REFERENCE} status ${status}` },
    })),
  });

const hostRunning = (): AzRule => ({
  command: 'rest',
  url: '/host/default/properties/status',
  answers: [{ stdout: hostStatus('Running') }],
});
const allRoles = (): AzRule => ({
  command: 'role assignment list',
  answers: [{ stdout: [ROLE.sender, ROLE.receiver, ROLE.owner].map(roleDefinition).join('\n') }],
});

const provisionEnv = () => ({
  AZURE_SUBSCRIPTION_ID: SUBSCRIPTION,
  RESOURCE_GROUP,
  SERVICE_BUS_NAMESPACE: 'sb-abc123',
  SERVICE_BUS_TOPIC_NAME: TOPOLOGY.topic.name,
  AZURE_FUNCTION_APP_NAME: APP,
});

const deployEnv = () => ({
  ...provisionEnv(),
  AZURE_APP_PRINCIPAL_ID: APP_PRINCIPAL,
  EVENT_GRID_SYSTEM_TOPIC_NAME: 'evgst-datasets-abc123',
  DATASETS_CONTAINER_NAME: CONTAINERS.datasets,
  INTAKE_FUNCTION_NAME: intakeFunctionName,
  MANIFEST_NAME,
  KEY_VAULT_REFERENCE_SETTINGS: 'DATABRICKS_TOKEN',
  TUNEDROP_WAIT_ATTEMPTS: '6',
  TUNEDROP_RESTART_EVERY: '2',
});

/** A first deploy as the desk review expects it: nothing is effective at first, everything is after a while. */
const firstDeploy = (): AzRule[] => [
  {
    command: 'rest',
    url: '/host/default/properties/status',
    answers: [
      {
        stdout: hostStatus('Error', [
          'InaccessibleStorageException: 403 This request is not authorized to perform this operation',
        ]),
      },
      { stdout: hostStatus('Running') },
    ],
  },
  {
    command: 'functionapp keys list',
    answers: [
      { exit: 1, stderr: 'ERROR: Operation returned an invalid status (Forbidden): InaccessibleStorageException' },
      { stdout: '' },
      { stdout: BLOBS_KEY },
    ],
  },
  allRoles(),
  {
    command: 'rest',
    url: '/config/configreferences/appsettings',
    answers: [
      { stdout: references(['DATABRICKS_TOKEN', 'AccessToKeyVaultDenied']) },
      { stdout: references(['DATABRICKS_TOKEN', 'AccessToKeyVaultDenied']) },
      { stdout: references(['DATABRICKS_TOKEN', 'Resolved']) },
    ],
  },
  { command: 'functionapp restart', answers: [{}] },
  { command: 'functionapp show', answers: [{ stdout: HOST }] },
  {
    command: 'eventgrid system-topic event-subscription create',
    answers: [
      {
        exit: 1,
        stderr: `ERROR: (Url validation) Webhook validation handshake failed for https://${HOST}/runtime/webhooks/blobs?functionName=Host.Functions.intake&code=${BLOBS_KEY}. Http POST request failed with response code Unknown.`,
      },
      {},
    ],
  },
];

const ruleList = (names: string): AzRule => ({
  command: 'servicebus topic subscription rule list',
  answers: [{ stdout: names }],
});

describe('postprovision hook: $Default rules, then storage reachable by the app identity', () => {
  it('deletes the catch-all $Default rule from every subscription of the topology', () => {
    const { status, output, calls } = run('postprovision.sh', provisionEnv(), [
      ruleList('$Default\nrun-completed'),
      { command: 'servicebus topic subscription rule delete', answers: [{}] },
      hostRunning(),
      { command: 'functionapp keys list', answers: [{ stdout: MASTER_KEY }] },
    ]);
    expect(status, output).toBe(0);
    const deletes = calls.filter((c) => commandOf(c, 5) === 'servicebus topic subscription rule delete');
    expect(deletes.map((c) => option(c, '--subscription-name')).sort()).toEqual(
      TOPOLOGY.subscriptions.map((s) => s.name).sort(),
    );
    for (const call of deletes) {
      expect(option(call, '--name')).toBe('$Default');
      expect(option(call, '--topic-name')).toBe(TOPOLOGY.topic.name);
      expect(option(call, '--namespace-name')).toBe('sb-abc123');
      expect(option(call, '-g')).toBe(RESOURCE_GROUP);
    }
    expect(output).not.toContain(MASTER_KEY);
  });

  it('is idempotent: deletes nothing once the rules are gone', () => {
    const { status, calls } = run('postprovision.sh', provisionEnv(), [
      ruleList('run-completed'),
      hostRunning(),
      { command: 'functionapp keys list', answers: [{ stdout: MASTER_KEY }] },
    ]);
    expect(status).toBe(0);
    expect(calls.filter((c) => c.args.includes('delete'))).toEqual([]);
    expect(calls.filter((c) => commandOf(c, 5) === 'servicebus topic subscription rule list')).toHaveLength(
      TOPOLOGY.subscriptions.length,
    );
  });

  it('fails loudly when it cannot read the rules, instead of leaving the catch-all rules in place', () => {
    const { status, output, calls } = run('postprovision.sh', provisionEnv(), [
      {
        command: 'servicebus topic subscription rule list',
        answers: [{ exit: 1, stderr: "ERROR: (AuthorizationFailed) The client 'me' does not have authorization" }],
      },
    ]);
    expect(status).not.toBe(0);
    expect(output).toContain('AuthorizationFailed');
    expect(calls).toHaveLength(1);
  });

  it('waits, with progress, until the host (as the app identity) keeps its keys in storage', () => {
    const { status, output, calls } = run('postprovision.sh', provisionEnv(), [
      ruleList(''),
      {
        command: 'rest',
        url: '/host/default/properties/status',
        answers: [
          { stdout: hostStatus('Error', ['InaccessibleStorageException: 403']) },
          { stdout: hostStatus('Running') },
        ],
      },
      {
        command: 'functionapp keys list',
        answers: [{ exit: 1, stderr: 'ERROR: (Forbidden) 403 InaccessibleStorageException' }, { stdout: MASTER_KEY }],
      },
    ]);
    expect(status, output).toBe(0);
    expect(output).toMatch(
      /storage: waiting for .* \(1\/60, next check in 0s\): host Error: InaccessibleStorageException: 403/,
    );
    expect(output).toMatch(/storage: waiting for .* \(2\/60.*\): host keys: ERROR: \(Forbidden\) 403/);
    expect(output).toMatch(/storage: ready after 3 check\(s\)/);
    const keys = calls.filter((c) => commandOf(c, 3) === 'functionapp keys list');
    expect(keys.map((c) => option(c, '--query'))).toEqual(['masterKey', 'masterKey']);
    expect(output).not.toContain(MASTER_KEY);
  });

  it('before the code is deployed, needs storage only: host errors of an app without functions do not block', () => {
    const { status, output } = run('postprovision.sh', provisionEnv(), [
      ruleList(''),
      {
        command: 'rest',
        url: '/host/default/properties/status',
        answers: [{ stdout: hostStatus('Running', ['No job functions found.']) }],
      },
      { command: 'functionapp keys list', answers: [{ stdout: MASTER_KEY }] },
    ]);
    expect(status, output).toBe(0);
    expect(output).toMatch(/storage: ready after 1 check/);
  });

  it('gives up after the bounded number of checks, saying why and how to recover', () => {
    const { status, output, calls } = run('postprovision.sh', { ...provisionEnv(), TUNEDROP_WAIT_ATTEMPTS: '4' }, [
      ruleList(''),
      {
        command: 'rest',
        url: '/host/default/properties/status',
        answers: [{ stdout: hostStatus('Error', ['InaccessibleStorageException: 403']) }],
      },
    ]);
    expect(status).not.toBe(0);
    expect(calls.filter((c) => c.args[0] === 'rest')).toHaveLength(4);
    expect(output).toContain('storage: gave up after 4 checks');
    expect(output).toContain('Last reason: host Error: InaccessibleStorageException: 403');
    expect(output).toContain('azd up');
  });
});

describe('postdeploy hook: wait for storage, Service Bus and Key Vault, restart, then Event Grid', () => {
  // One first-deploy run, looked at from several sides.
  let firstRun: ReturnType<typeof run>;
  beforeAll(() => {
    firstRun = run('postdeploy.sh', deployEnv(), firstDeploy());
  });

  it('rides out a first deploy: storage 403, unresolved Key Vault reference, a failed webhook handshake', () => {
    const { status, output, calls } = firstRun;
    expect(status, output).toBe(0);
    const order = calls.map((c) =>
      c.args[0] === 'rest'
        ? `rest ${option(c, '--url')?.includes('configreferences') ? 'references' : 'host'}`
        : c.args[1] === 'restart'
          ? 'functionapp restart'
          : commandOf(c, 3),
    );
    // Storage first (blobs_extension key), roles, references (restarted while unresolved), one
    // restart once resolved, storage again, then Event Grid (retried after the failed handshake).
    const firstKey = order.indexOf('functionapp keys list');
    const lastRestart = order.lastIndexOf('functionapp restart');
    const firstEventGrid = order.indexOf('eventgrid system-topic event-subscription');
    expect(firstKey).toBeGreaterThanOrEqual(0);
    expect(order.indexOf('role assignment list')).toBeGreaterThan(firstKey);
    expect(order.indexOf('rest references')).toBeGreaterThan(order.indexOf('role assignment list'));
    expect(order.filter((o) => o === 'functionapp restart')).toHaveLength(2);
    expect(order.lastIndexOf('rest references')).toBeLessThan(lastRestart);
    expect(order.slice(lastRestart).indexOf('functionapp keys list')).toBeGreaterThan(0);
    expect(firstEventGrid).toBeGreaterThan(lastRestart);
    expect(order.filter((o) => o === 'eventgrid system-topic event-subscription')).toHaveLength(2);

    expect(output).toContain('Key Vault: waiting for every Key Vault reference in the app settings to resolve (1/6');
    expect(output).toContain('DATABRICKS_TOKEN AccessToKeyVaultDenied');
    expect(output).toContain('Event Grid: waiting for');
    expect(output).toContain(`function ${intakeFunctionName}`);
    // Never the key (not even inside the error Event Grid echoes), never the reference.
    expect(output).not.toContain(BLOBS_KEY);
    expect(output).toContain('code=<redacted>');
    expect(output).not.toContain('@Microsoft.KeyVault');
    expect(output).not.toContain('kv-abc123');
  });

  it('creates the Event Grid subscription for BlobCreated of run.json in the datasets container, to the intake webhook', () => {
    const { status, output, calls } = firstRun;
    expect(status, output).toBe(0);
    const create = calls.filter((c) => commandOf(c, 4) === 'eventgrid system-topic event-subscription create').pop()!;
    expect(option(create, '--name')).toBe(`${intakeFunctionName}-manifests`);
    expect(option(create, '--system-topic-name')).toBe('evgst-datasets-abc123');
    expect(option(create, '--included-event-types')).toBe('Microsoft.Storage.BlobCreated');
    expect(option(create, '--subject-begins-with')).toBe(`/blobServices/default/containers/${CONTAINERS.datasets}/`);
    expect(option(create, '--subject-ends-with')).toBe(`/${MANIFEST_NAME}`);
    expect(option(create, '--endpoint-type')).toBe('webhook');
    const endpoint = new URL(option(create, '--endpoint') ?? '');
    expect(endpoint.origin).toBe(`https://${HOST}`);
    expect(endpoint.pathname).toBe('/runtime/webhooks/blobs');
    expect(endpoint.searchParams.get('functionName')).toBe(`Host.Functions.${intakeFunctionName}`);
    expect(endpoint.searchParams.get('code')).toBe(BLOBS_KEY);
    const keys = calls.filter((c) => commandOf(c, 3) === 'functionapp keys list');
    expect(new Set(keys.map((c) => option(c, '--query')))).toEqual(new Set(['systemKeys.blobs_extension']));
  });

  it('checks the app identity at the scopes the triggers read: every topology subscription and the topic', () => {
    const { calls } = firstRun;
    const topic = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.ServiceBus/namespaces/sb-abc123/topics/${TOPOLOGY.topic.name}`;
    const lists = calls.filter((c) => commandOf(c, 3) === 'role assignment list');
    expect(lists.map((c) => option(c, '--scope')).sort()).toEqual(
      [topic, ...TOPOLOGY.subscriptions.map((s) => `${topic}/subscriptions/${s.name}`)].sort(),
    );
    for (const call of lists) expect(option(call, '--query')).toContain(APP_PRINCIPAL);
  });

  it('stops at once, naming the role and the subscription, when a trigger lacks its Data Owner role', () => {
    const rules = firstDeploy().map((rule) =>
      rule.command === 'role assignment list'
        ? { ...rule, answers: [{ stdout: [ROLE.sender, ROLE.receiver].map(roleDefinition).join('\n') }] }
        : rule,
    );
    const { status, output, calls } = run('postdeploy.sh', deployEnv(), rules);
    expect(status).not.toBe(0);
    for (const subscription of TOPOLOGY.subscriptions)
      expect(output).toContain(`Data Owner on subscription ${subscription.name}`);
    expect(output).not.toContain('Data Receiver on subscription');
    expect(calls.some((c) => c.args[0] === 'eventgrid')).toBe(false);
    expect(calls.some((c) => commandOf(c, 2) === 'functionapp restart')).toBe(false);
  });

  it('gives up on a reference that never resolves, naming the setting and its status, never the reference', () => {
    const rules = firstDeploy().map((rule) =>
      rule.url === '/config/configreferences/appsettings'
        ? { ...rule, answers: [{ stdout: references(['DATABRICKS_TOKEN', 'SecretNotFound']) }] }
        : rule,
    );
    const { status, output, calls } = run('postdeploy.sh', deployEnv(), rules);
    expect(status).not.toBe(0);
    expect(output).toContain('Key Vault: gave up after 6 checks');
    expect(output).toContain('Last reason: DATABRICKS_TOKEN SecretNotFound');
    expect(output).not.toContain('@Microsoft.KeyVault');
    expect(output).not.toContain('kv-abc123');
    // Restarted after checks 2 and 4 while waiting (check 6 gives up); no Event Grid subscription to
    // an app that cannot work.
    expect(calls.filter((c) => commandOf(c, 2) === 'functionapp restart')).toHaveLength(2);
    expect(calls.some((c) => c.args[0] === 'eventgrid')).toBe(false);
  });

  it('waits while the deployed host reports errors (e.g. a Service Bus listener refused), printing them', () => {
    const rules = firstDeploy().map((rule) =>
      rule.url === '/host/default/properties/status'
        ? {
            ...rule,
            answers: [
              {
                stdout: hostStatus('Running', [
                  "The listener for function 'Functions.registerModel' was unable to start.\nUnauthorized",
                ]),
              },
              { stdout: hostStatus('Running') },
            ],
          }
        : rule,
    );
    const { status, output } = run('postdeploy.sh', deployEnv(), rules);
    expect(status, output).toBe(0);
    expect(output).toContain("host Running: The listener for function 'Functions.registerModel' was unable to start.");
    expect(output).not.toContain('Unauthorized');
  });

  it('waits for a reference Bicep set that the platform has not reported yet', () => {
    const rules = firstDeploy().map((rule) =>
      rule.url === '/config/configreferences/appsettings'
        ? { ...rule, answers: [{ stdout: references() }, { stdout: references(['DATABRICKS_TOKEN', 'Resolved']) }] }
        : rule,
    );
    const { status, output } = run('postdeploy.sh', deployEnv(), rules);
    expect(status, output).toBe(0);
    expect(output).toContain('DATABRICKS_TOKEN not reported yet');
  });

  it('does not restart an app without Key Vault references (token-less, Entra ID auth)', () => {
    const rules = firstDeploy().map((rule) =>
      rule.url === '/config/configreferences/appsettings' ? { ...rule, answers: [{ stdout: references() }] } : rule,
    );
    const { status, output, calls } = run('postdeploy.sh', { ...deployEnv(), KEY_VAULT_REFERENCE_SETTINGS: '' }, rules);
    expect(status, output).toBe(0);
    expect(calls.some((c) => commandOf(c, 2) === 'functionapp restart')).toBe(false);
    expect(calls.some((c) => c.args[0] === 'eventgrid')).toBe(true);
  });

  it('fails, with the redacted error, when Event Grid never validates the webhook', () => {
    const rules = firstDeploy().map((rule) =>
      rule.command.startsWith('eventgrid') ? { ...rule, answers: [rule.answers[0]!] } : rule,
    );
    const { status, output, calls } = run(
      'postdeploy.sh',
      { ...deployEnv(), TUNEDROP_EVENT_GRID_ATTEMPTS: '3' },
      rules,
    );
    expect(status).not.toBe(0);
    expect(calls.filter((c) => c.args[0] === 'eventgrid')).toHaveLength(3);
    expect(output).toContain('Webhook validation handshake failed');
    expect(output).not.toContain(BLOBS_KEY);
  });

  it('refuses to run outside azd (no outputs in the environment)', () => {
    const { status, output, calls } = run('postdeploy.sh', {}, []);
    expect(status).not.toBe(0);
    expect(output).toMatch(/AZURE_SUBSCRIPTION_ID/);
    expect(calls).toEqual([]);
  });
});

describe('the hooks themselves', () => {
  const scripts = ['lib.sh', 'postprovision.sh', 'postdeploy.sh'];
  const source = (script: string, dir = path.join(INFRA_DIR, 'scripts')) =>
    readFileSync(path.join(dir, script), 'utf8');
  const codeLines = (text: string) => text.split('\n').filter((line) => !/^\s*#/.test(line));

  /** Ways to swallow an error or hide output, which the hooks must not contain. */
  function swallowing(text: string): string[] {
    return codeLines(text).filter((line) => /2>\s*\/dev\/null|&>\s*\/dev\/null|\|\|\s*(true|:)\b|set \+e/.test(line));
  }

  it('swallow no error: no 2>/dev/null, no "|| true", no set +e', () => {
    for (const script of scripts) expect(swallowing(source(script)), script).toEqual([]);
    expect(swallowing('x=$(az foo 2>/dev/null || true)')).toHaveLength(1);
  });

  it('call az only through az_sub (adds --subscription) or az rest (absolute ARM URL)', () => {
    for (const script of scripts) {
      const direct = codeLines(source(script)).filter(
        (line) =>
          /(^\s*|[;&|(]\s*|\b(then|do|else)\s+)az\s/.test(line) &&
          !/az_sub\(\) \{ az "\$@" --subscription "\$AZURE_SUBSCRIPTION_ID"; \}/.test(line) &&
          !/try_az az rest /.test(line),
      );
      expect(direct, script).toEqual([]);
    }
  });

  it('check the Service Bus role ids rbac.bicep grants', async () => {
    const names = roleNames(await readBicep(path.join(INFRA_DIR, 'app/rbac.bicep')));
    const hook = source('postdeploy.sh');
    for (const [variable, role] of [
      ['service_bus_data_sender', 'serviceBusDataSender'],
      ['service_bus_data_receiver', 'serviceBusDataReceiver'],
      ['service_bus_data_owner', 'serviceBusDataOwner'],
    ] as const) {
      const id = [...names].find(([, n]) => n === role)?.[0];
      expect(hook).toContain(`${variable}=${id}`);
    }
  });

  describe('the checks catch a broken hook (mutants of the real scripts)', () => {
    let mutantRoot: string;
    const mutantScripts = () => path.join(mutantRoot, 'infra/scripts');

    beforeAll(() => {
      mutantRoot = mkdtempSync(path.join(tmpdir(), 'tunedrop-hook-mutant-'));
      mkdirSync(path.join(mutantRoot, 'shared/events'), { recursive: true });
      cpSync(path.join(REPO_ROOT, 'shared/events/topology.json'), path.join(mutantRoot, 'shared/events/topology.json'));
      cpSync(path.join(INFRA_DIR, 'scripts'), mutantScripts(), { recursive: true });
    });
    afterAll(() => rmSync(mutantRoot, { recursive: true, force: true }));

    function mutate(script: string, from: string, to: string) {
      cpSync(path.join(INFRA_DIR, 'scripts'), mutantScripts(), { recursive: true });
      const original = source(script);
      expect(original).toContain(from);
      writeFileSync(path.join(mutantScripts(), script), original.replace(from, to));
    }

    it('a call without --subscription is reported', () => {
      mutate('lib.sh', 'az_sub() { az "$@" --subscription "$AZURE_SUBSCRIPTION_ID"; }', 'az_sub() { az "$@"; }');
      const result = az.runHook(
        path.join(mutantScripts(), 'postprovision.sh'),
        { ...provisionEnv(), TUNEDROP_WAIT_SECONDS: '0' },
        [ruleList(''), hostRunning(), { command: 'functionapp keys list', answers: [{ stdout: MASTER_KEY }] }],
      );
      expect(result.status).toBe(0);
      const missing = callsWithoutSubscription(result.calls, SUBSCRIPTION);
      expect(missing.length).toBe(TOPOLOGY.subscriptions.length + 1);
      expect(missing[0]).toMatch(/^az servicebus topic subscription rule list /);
    });

    it('a swallowed error is reported, statically and by the failing-call scenario', () => {
      mutate(
        'postprovision.sh',
        '--query "[].name" --output tsv)',
        '--query "[].name" --output tsv 2>/dev/null || true)',
      );
      expect(swallowing(source('postprovision.sh', mutantScripts()))).toHaveLength(1);
      const result = az.runHook(
        path.join(mutantScripts(), 'postprovision.sh'),
        { ...provisionEnv(), TUNEDROP_WAIT_SECONDS: '0' },
        [
          {
            command: 'servicebus topic subscription rule list',
            answers: [{ exit: 1, stderr: 'ERROR: (AuthorizationFailed)' }],
          },
          hostRunning(),
          { command: 'functionapp keys list', answers: [{ stdout: MASTER_KEY }] },
        ],
      );
      // The mutant "succeeds" with the catch-all rules still in place: the real hook's test expects failure.
      expect(result.status).toBe(0);
      expect(result.output).not.toContain('AuthorizationFailed');
    });
  });
});
