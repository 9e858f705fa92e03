import { afterAll, describe, expect, inject, it } from 'vitest';
import type { HostExtension, LocalFunctionHost } from '../../../local/host/contract';
import { LocalHostError } from '../../../local/host/errors';
import { startFunctionHost } from '../../../local/host/host';
import { type LocalRuntime, startLocalRuntime } from '../../../local/runtime';
import { EXTENSION_APP, TEST_APP, UNHANDLED_APP } from './support';

/** A stand-in extension: drives `customTrigger` and supplies `customInput`, as the durable/bus extensions do. */
function customExtension() {
  const seen: { started?: LocalFunctionHost; stopped: boolean } = { stopped: false };
  const extension: HostExtension = {
    name: 'custom-test-extension',
    triggerTypes: ['customTrigger'],
    inputBindingTypes: ['customInput'],
    inputBindingValue: async (binding, fn) => ({ from: 'extension', table: binding.table, fn: fn.name }),
    async start(host) {
      seen.started = host;
    },
    async stop() {
      seen.stopped = true;
    },
  };
  return { extension, seen };
}

describe('local host startup', () => {
  const storage = () => inject('azurite').connectionString;

  it('fails startup with a clear, coded error for triggers no extension handles', async () => {
    const failure = await startFunctionHost({
      appRoot: UNHANDLED_APP,
      storageConnectionString: storage(),
      port: 0,
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(LocalHostError);
    const error = failure as LocalHostError;
    expect(error.code).toBe('unhandled_trigger');
    expect(error.message).toContain('function "needsDurable": trigger type "orchestrationTrigger" is not handled');
    expect(error.message).toContain('function "needsQueue": trigger type "queueTrigger" is not handled');
    expect(error.message).not.toContain('"ping"');
  });

  it('fails startup when the app registers no functions, and when package.json main matches nothing', async () => {
    await expect(
      startFunctionHost({ appRoot: `${TEST_APP}/apps/empty`, storageConnectionString: storage(), port: 0 }),
    ).rejects.toMatchObject({ code: 'no_functions' });
    await expect(
      startFunctionHost({ appRoot: `${TEST_APP}/functions`, storageConnectionString: storage(), port: 0 }),
    ).rejects.toMatchObject({ code: 'invalid_app_package' });
  });

  it('routes a trigger and an input binding to the extension that declares them', async () => {
    const { extension, seen } = customExtension();
    const host = await startFunctionHost({
      appRoot: EXTENSION_APP,
      storageConnectionString: storage(),
      port: 0,
      extensions: [extension],
    });
    try {
      expect(seen.started).toBe(host);
      expect(host.functions.get('customTriggered')?.trigger).toMatchObject({ type: 'customTrigger', channel: 'alpha' });
      const result = await host.invoke({
        functionName: 'customTriggered',
        triggerValue: { order: 7 },
        triggerMetadata: { DeliveryCount: 2 },
        retryCount: 1,
      });
      expect(result.returnValue).toEqual({
        payload: { order: 7 },
        lookup: { from: 'extension', table: 'widgets', fn: 'customTriggered' },
        triggerMetadata: { deliveryCount: 2 },
        retryCount: 1,
      });
      await expect(host.invoke({ functionName: 'nope', triggerValue: 1 })).rejects.toMatchObject({
        code: 'function_not_found',
      });
    } finally {
      await host.stop();
    }
    expect(seen.stopped).toBe(true);
  });

  it('serves extension routes outside /api through addRoute, only with the key their auth level needs', async () => {
    const { extension } = customExtension();
    let systemKey = '';
    extension.start = async (host) => {
      systemKey = host.systemKey('custom_extension');
      const handler = (_req: unknown, res: { statusCode: number; end(text: string): void }) => {
        res.statusCode = 299;
        res.end('extension route');
      };
      host.addRoute('/runtime/webhooks/custom', handler, { level: 'system', systemKey: 'custom_extension' });
      host.addRoute('/runtime/secret-rpc', handler, { level: 'unguessable', secret: 's3cr3t-segment' });
    };
    const host = await startFunctionHost({
      appRoot: EXTENSION_APP,
      storageConnectionString: storage(),
      port: 0,
      extensions: [extension],
      keys: { master: 'master-key-0123456789', host: ['host-key-0123456789'] },
    });
    try {
      const at = (path: string, headers: Record<string, string> = {}) =>
        fetch(`${host.baseUrl}${path}`, { method: 'POST', headers });
      // No key, a host key or a wrong key: 401, the handler never runs (Azure: system key or master only).
      expect((await at('/runtime/webhooks/custom/instances/1')).status).toBe(401);
      expect((await at('/runtime/webhooks/custom/instances/1?code=host-key-0123456789')).status).toBe(401);
      expect((await at('/runtime/webhooks/custom/instances/1', { 'x-functions-key': 'nope' })).status).toBe(401);
      const withSystemKey = await at(`/runtime/webhooks/custom/instances/1?code=${systemKey}`);
      expect(withSystemKey.status).toBe(299);
      expect(await withSystemKey.text()).toBe('extension route');
      expect((await at('/runtime/webhooks/custom/x', { 'x-functions-key': 'master-key-0123456789' })).status).toBe(299);
      // The unguessable route: only its secret path segment opens it.
      expect((await at('/runtime/secret-rpc/instances/1')).status).toBe(401);
      expect((await at('/runtime/secret-rpc/guess/instances/1')).status).toBe(401);
      expect((await at('/runtime/secret-rpc/s3cr3t-segment/instances/1')).status).toBe(299);
    } finally {
      await host.stop();
    }
  });

  it('refuses a second host in the same process', async () => {
    const { extension } = customExtension();
    const host = await startFunctionHost({
      appRoot: EXTENSION_APP,
      storageConnectionString: storage(),
      port: 0,
      extensions: [extension],
    });
    try {
      await expect(
        startFunctionHost({ appRoot: TEST_APP, storageConnectionString: storage(), port: 0 }),
      ).rejects.toMatchObject({ code: 'host_already_running' });
    } finally {
      await host.stop();
    }
  });

  describe('startLocalRuntime with its own in-memory Azurite', () => {
    let runtime: LocalRuntime;
    afterAll(async () => {
      await runtime?.stop();
    });

    it('starts Azurite, the app and extension factories, reports startup time, and stops cleanly', async () => {
      const { extension, seen } = customExtension();
      const environment: Record<string, string | undefined> = {};
      runtime = await startLocalRuntime({
        appRoot: EXTENSION_APP,
        storage: 'memory',
        port: 0,
        blobScanIntervalMs: 0,
        environment,
        extensions: [
          (services) => {
            expect(services.storageConnectionString).toContain('devstoreaccount1');
            return extension;
          },
        ],
      });
      expect(seen.started).toBe(runtime.host);
      expect(runtime.storage.endpoints?.blob).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1$/);
      expect(environment.AzureWebJobsStorage).toBe(runtime.storage.connectionString);
      expect(runtime.startup.storageMs).toBeGreaterThan(0);
      expect(runtime.startup.totalMs).toBeGreaterThanOrEqual(runtime.startup.storageMs + runtime.startup.hostMs - 1);
      const res = await fetch(`${runtime.host.baseUrl}/`);
      expect(res.status).toBe(200);
      const baseUrl = runtime.host.baseUrl;
      await runtime.stop();
      await expect(fetch(`${baseUrl}/`)).rejects.toThrow();
    });
  });
});
