import { TableClient } from '@azure/data-tables';
import { ServiceBusClient } from '@azure/service-bus';
import { describe, expect, it } from 'vitest';
import type { ApiDeps } from '../../../shared/api/deps';
import { ProblemError } from '../../../shared/api/problem';
import { healthRoute } from '../../../shared/api/routes/index';
import { ServiceBusEventPublisher } from '../../../shared/events/publisher';
import { RunIndex } from '../../../shared/registry/runIndex';

const call = (runIndex: Pick<RunIndex, 'get'>, busReachable?: () => Promise<void>) =>
  healthRoute.handle({ deps: { runIndex, busReachable } as unknown as ApiDeps } as Parameters<
    typeof healthRoute.handle
  >[0]);

/** Issue 12 item 6: health reports whether storage is reachable instead of always 200. */
describe('GET /api/health', () => {
  it('is 200 with checks.storage ok when the run index answers', async () => {
    const result = await call({ get: async () => undefined });
    expect(result).toMatchObject({ status: 200, body: { status: 'ok', checks: { storage: 'ok' } } });
  });

  it('is 503 dependency_unavailable, within about 2 s, when storage is down', async () => {
    // Azurite's account on a port nothing listens on: every call fails (after the SDK's own retries).
    const dead = new RunIndex(
      TableClient.fromConnectionString(
        'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:9/devstoreaccount1;',
        'runs',
        { allowInsecureConnection: true },
      ),
    );
    const started = Date.now();
    const err = await call(dead).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProblemError);
    expect(err).toMatchObject({
      status: 503,
      code: 'dependency_unavailable',
      extensions: { checks: { storage: 'unreachable' } },
    });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('is 503 when the run index hangs', async () => {
    const err = await call({ get: () => new Promise(() => {}) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 503, code: 'dependency_unavailable' });
  });

  it('reports the bus: 200 with checks.bus ok when it answers', async () => {
    const result = await call({ get: async () => undefined }, async () => undefined);
    expect(result).toMatchObject({ status: 200, body: { checks: { storage: 'ok', bus: 'ok' } } });
  });

  it('is 503 naming the bus when storage answers and the bus does not', async () => {
    const err = await call({ get: async () => undefined }, async () => {
      throw new Error('ServiceCommunicationError');
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      status: 503,
      code: 'dependency_unavailable',
      extensions: { checks: { storage: 'ok', bus: 'unreachable' } },
    });
    expect((err as Error).message).toContain('the event bus');
    expect((err as Error).message).not.toContain('storage');
  });

  it('is 503 within about 2 s when the Service Bus namespace cannot be reached (the real SDK)', async () => {
    const client = new ServiceBusClient(
      'Endpoint=sb://127.0.0.1:9;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;',
      { retryOptions: { maxRetries: 0, timeoutInMs: 5_000 } },
    );
    const publisher = new ServiceBusEventPublisher(client.createSender('training-events'));
    try {
      const started = Date.now();
      const err = await call({ get: async () => undefined }, () => publisher.checkReachable()).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 503, extensions: { checks: { bus: 'unreachable' } } });
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await client.close().catch(() => undefined);
    }
  });
});
