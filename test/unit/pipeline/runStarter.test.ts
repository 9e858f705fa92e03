import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DurableClient as DurableClientType } from 'durable-functions';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { durableRunStarter } from '../../../shared/compositionRoot';
import type { TrainingRunInput } from '../../../shared/pipeline/runContracts';

/**
 * The intake's run start through durable-functions' real DurableClient (its own getStatus /
 * startNew code and error messages), talking to a stand-in for the extension's RPC endpoint that
 * answers what the test sets.
 */
const { DurableClient } = require('durable-functions/lib/src/durableClient/DurableClient') as {
  DurableClient: new (clientData: unknown) => DurableClientType;
};

let server: Server;
let base: string;
let statusAnswer: { status: number; body?: unknown };
const requests: { method: string; url: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '' });
    req.resume();
    const answer = req.method === 'GET' ? statusAnswer : { status: 202, body: { id: 'run-1' } };
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  requests.length = 0;
});

const client = () =>
  new DurableClient({
    taskHubName: 'hub',
    creationUrls: {},
    managementUrls: { id: 'INSTANCEID' },
    baseUrl: `${base}/runtime/webhooks/durabletask`,
    requiredQueryStringParameters: '',
    rpcBaseUrl: `${base}/rpc/`,
  });

const input = { runId: 'run-1' } as TrainingRunInput;
const instanceStatus = (runtimeStatus: string) => ({
  name: 'trainingRun',
  instanceId: 'run-1',
  createdTime: '2026-11-30T00:00:00Z',
  lastUpdatedTime: '2026-11-30T00:00:00Z',
  runtimeStatus,
  input: null,
  output: null,
  customStatus: null,
  history: [],
});
const starts = () => requests.filter((r) => r.method === 'POST');

describe('starting a run from intake (durableRunStarter)', () => {
  it('a status read that fails (HTTP 500) propagates and starts nothing: no second instance over a live one', async () => {
    statusAnswer = { status: 500, body: { message: 'table storage unavailable' } };
    await expect(durableRunStarter(client())(input)).rejects.toThrow();
    expect(requests.map((r) => r.method)).toEqual(['GET']);
    expect(starts()).toHaveLength(0);
  });

  it('an unreadable status answer (empty 200) propagates too', async () => {
    statusAnswer = { status: 200 };
    await expect(durableRunStarter(client())(input)).rejects.toThrow(/empty HTTP 200/);
    expect(starts()).toHaveLength(0);
  });

  it('not found (HTTP 404) is the one answer that means "no instance": the orchestration is started', async () => {
    statusAnswer = { status: 404 };
    await expect(durableRunStarter(client())(input)).resolves.toBe('started');
    expect(starts()).toHaveLength(1);
    expect(starts()[0]?.url).toBe('/rpc/orchestrators/trainingRun/run-1');
  });

  it('an existing instance, running or ended, is not started again', async () => {
    for (const runtimeStatus of ['Running', 'Failed']) {
      statusAnswer = { status: 200, body: instanceStatus(runtimeStatus) };
      await expect(durableRunStarter(client())(input)).resolves.toBe('exists');
    }
    expect(starts()).toHaveLength(0);
  });
});
