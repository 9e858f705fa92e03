import { describe, expect, it } from 'vitest';
import { loadSettings, SettingsError } from '../../shared/config/settings';

const base = { AzureWebJobsStorage: 'UseDevelopmentStorage=true' };

describe('settings', () => {
  it('applies defaults', () => {
    const s = loadSettings(base);
    expect(s).toMatchObject({
      polling: { initialSeconds: 30, maxSeconds: 600 },
      runDeadlineHours: 168,
      modelAlias: 'candidate',
      taskHub: 'tunedrop',
    });
    expect(s.databricks).toBeUndefined();
  });

  it('reads identity-based connections', () => {
    const s = loadSettings({
      AzureWebJobsStorage__accountName: 'acct',
      ServiceBusConnection__fullyQualifiedNamespace: 'ns.servicebus.windows.net',
      DATABRICKS_HOST: 'https://adb-1.2.azuredatabricks.net/',
      DATABRICKS_REGION: 'East US 2',
      TUNEDROP_VOLUME_PATH: '/Volumes/ml/tunedrop/datasets',
    });
    expect(s.storage).toEqual({ accountName: 'acct', clientId: undefined });
    expect(s.serviceBus).toMatchObject({ fullyQualifiedNamespace: 'ns.servicebus.windows.net' });
    expect(s.databricks).toMatchObject({ host: 'https://adb-1.2.azuredatabricks.net', region: 'eastus2' });
    expect(s.staging).toEqual({ kind: 'volume-mapping', volumePath: '/Volumes/ml/tunedrop/datasets' });
  });

  it('names every bad setting and never echoes a secret value', () => {
    const secret = 'dapi-very-secret-token';
    try {
      loadSettings({
        DATABRICKS_TOKEN: secret,
        DATABRICKS_HOST: 'not a url',
        DATABRICKS_REGION: 'westeurope',
        TUNEDROP_POLL_INITIAL_SECONDS: '-1',
        TUNEDROP_STAGING_VOLUME: 'dbfs:/tmp',
      });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(SettingsError);
      const message = (err as Error).message;
      for (const name of [
        'AzureWebJobsStorage',
        'DATABRICKS_HOST',
        'DATABRICKS_REGION',
        'TUNEDROP_POLL_INITIAL_SECONDS',
        'TUNEDROP_STAGING_VOLUME',
      ]) {
        expect(message).toContain(name);
      }
      expect(message).not.toContain(secret);
    }
  });
});
