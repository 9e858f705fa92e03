import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTAINERS } from '../../shared/config/resources';
import { TOPOLOGY } from '../../shared/events/topology';
import { MANIFEST_NAME } from '../../shared/pipeline/submit';
import { INFRA_DIR, readBicep, stringValue, variableValue } from './bicep';

/**
 * The azd hooks run for real (sh) against a stand-in `az` on PATH that records its arguments
 * and answers the few queries the hooks make. This pins what reaches Azure: the Event Grid
 * filter, the webhook target, and which Service Bus rules are deleted.
 */
const SEPARATOR = '\u001f';
const FAKE_KEY = 'fake-blobs-extension-key-0123456789';
const FAKE_HOST = 'func-api-abc123.azurewebsites.net';

let workDir: string;
let azLog: string;
let intakeFunctionName: string;

beforeAll(async () => {
  workDir = mkdtempSync(path.join(tmpdir(), 'tunedrop-hooks-'));
  azLog = path.join(workDir, 'az.log');
  const fakeAz = path.join(workDir, 'az');
  writeFileSync(
    fakeAz,
    `#!/bin/sh
for arg in "$@"; do printf '%s${SEPARATOR}' "$arg" >> "$AZ_LOG"; done
printf '\\n' >> "$AZ_LOG"
case "$1 $2 $3" in
  "functionapp keys list") [ -n "$FAKE_KEY" ] && echo "$FAKE_KEY"; exit 0 ;;
  "functionapp show -g") echo "${FAKE_HOST}"; exit 0 ;;
esac
case "$1 $2 $3 $4 $5" in
  "servicebus topic subscription rule show") [ -n "$FAKE_HAS_DEFAULT_RULE" ] && exit 0; echo "not found" >&2; exit 3 ;;
esac
exit 0
`,
  );
  chmodSync(fakeAz, 0o755);
  const main = await readBicep(path.join(INFRA_DIR, 'main.bicep'));
  const intake = variableValue(main, 'intakeFunctionName');
  intakeFunctionName = (intake && stringValue(intake)) ?? '';
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

function runHook(script: string, env: Record<string, string>) {
  rmSync(azLog, { force: true });
  const result = spawnSync('sh', [path.join(INFRA_DIR, 'scripts', script)], {
    env: { PATH: `${workDir}:${process.env.PATH}`, AZ_LOG: azLog, ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  let calls: string[][] = [];
  try {
    calls = readFileSync(azLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(SEPARATOR).slice(0, -1));
  } catch {
    // no az call at all
  }
  return { status: result.status, output: `${result.stdout}${result.stderr}`, calls };
}

function option(call: string[], name: string): string | undefined {
  const index = call.indexOf(name);
  return index >= 0 ? call[index + 1] : undefined;
}

const deployEnv = () => ({
  RESOURCE_GROUP: 'rg-test',
  AZURE_FUNCTION_APP_NAME: 'func-api-abc123',
  EVENT_GRID_SYSTEM_TOPIC_NAME: 'evgst-datasets-abc123',
  DATASETS_CONTAINER_NAME: CONTAINERS.datasets,
  INTAKE_FUNCTION_NAME: intakeFunctionName,
  MANIFEST_NAME,
  TUNEDROP_KEY_WAIT_ATTEMPTS: '2',
  TUNEDROP_KEY_WAIT_SECONDS: '0',
});

describe('postdeploy hook: Event Grid subscription for manifests', () => {
  it('subscribes the intake function to BlobCreated of run.json in the datasets container', () => {
    const { status, output, calls } = runHook('postdeploy.sh', { ...deployEnv(), FAKE_KEY });
    expect(status, output).toBe(0);
    const create = calls.find((c) => c.slice(0, 4).join(' ') === 'eventgrid system-topic event-subscription create');
    expect(create).toBeDefined();
    expect(option(create!, '--system-topic-name')).toBe('evgst-datasets-abc123');
    expect(option(create!, '--included-event-types')).toBe('Microsoft.Storage.BlobCreated');
    expect(option(create!, '--subject-begins-with')).toBe(`/blobServices/default/containers/${CONTAINERS.datasets}/`);
    expect(option(create!, '--subject-ends-with')).toBe(`/${MANIFEST_NAME}`);
    expect(option(create!, '--endpoint-type')).toBe('webhook');
    const endpoint = new URL(option(create!, '--endpoint') ?? '');
    expect(endpoint.origin).toBe(`https://${FAKE_HOST}`);
    expect(endpoint.pathname).toBe('/runtime/webhooks/blobs');
    expect(endpoint.searchParams.get('functionName')).toBe(`Host.Functions.${intakeFunctionName}`);
    expect(endpoint.searchParams.get('code')).toBe(FAKE_KEY);
  });

  it('never prints the blobs_extension key', () => {
    const { status, output } = runHook('postdeploy.sh', { ...deployEnv(), FAKE_KEY });
    expect(status).toBe(0);
    expect(output).not.toContain(FAKE_KEY);
    expect(output).toContain(`function ${intakeFunctionName}`);
  });

  it('fails with a clear message, creating nothing, when the key never appears', () => {
    const { status, output, calls } = runHook('postdeploy.sh', { ...deployEnv(), FAKE_KEY: '' });
    expect(status).not.toBe(0);
    expect(output).toContain('blobs_extension system key did not appear');
    expect(calls.filter((c) => c[0] === 'functionapp' && c[1] === 'keys')).toHaveLength(2);
    expect(calls.some((c) => c[0] === 'eventgrid')).toBe(false);
  });

  it('refuses to run outside azd (no outputs in the environment)', () => {
    const { status, output, calls } = runHook('postdeploy.sh', {});
    expect(status).not.toBe(0);
    expect(output).toMatch(/RESOURCE_GROUP/);
    expect(calls).toEqual([]);
  });
});

describe('postprovision hook: Service Bus $Default rules', () => {
  const env = {
    RESOURCE_GROUP: 'rg-test',
    SERVICE_BUS_NAMESPACE: 'sb-abc123',
    SERVICE_BUS_TOPIC_NAME: TOPOLOGY.topic.name,
  };

  it('deletes the catch-all $Default rule from every subscription of the topology', () => {
    const { status, output, calls } = runHook('postprovision.sh', { ...env, FAKE_HAS_DEFAULT_RULE: '1' });
    expect(status, output).toBe(0);
    const deletes = calls.filter((c) => c.slice(0, 5).join(' ') === 'servicebus topic subscription rule delete');
    expect(deletes.map((c) => option(c, '--subscription-name')).sort()).toEqual(
      TOPOLOGY.subscriptions.map((s) => s.name).sort(),
    );
    for (const call of deletes) {
      expect(option(call, '--name')).toBe('$Default');
      expect(option(call, '--topic-name')).toBe(TOPOLOGY.topic.name);
      expect(option(call, '--namespace-name')).toBe('sb-abc123');
    }
  });

  it('is idempotent: deletes nothing once the rules are gone', () => {
    const { status, calls } = runHook('postprovision.sh', env);
    expect(status).toBe(0);
    expect(calls.filter((c) => c.includes('delete'))).toEqual([]);
    expect(calls.filter((c) => c.includes('show'))).toHaveLength(TOPOLOGY.subscriptions.length);
  });
});
