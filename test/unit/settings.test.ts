import { describe, expect, it } from 'vitest';
import { loadSettings, SettingsError, unresolvedReferences } from '../../shared/config/settings';

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

describe('settings: unresolved Key Vault references', () => {
  const reference = '@Microsoft.KeyVault(SecretUri=https://kv-abc123.vault.azure.net/secrets/databricks-token/)';
  const azure = {
    AzureWebJobsStorage__accountName: 'acct',
    DATABRICKS_HOST: 'https://adb-1.2.azuredatabricks.net',
  };

  function settingsError(env: Record<string, string | undefined>): SettingsError {
    try {
      loadSettings(env);
    } catch (err) {
      if (err instanceof SettingsError) return err;
      throw err;
    }
    throw new Error('loadSettings accepted the environment');
  }

  it('refuses a token that is still the literal reference, naming the setting and never the value', () => {
    const error = settingsError({ ...azure, DATABRICKS_TOKEN: reference });
    expect(error.code).toBe('invalid_settings');
    expect(error.unresolvedReferences).toEqual(['DATABRICKS_TOKEN']);
    expect(error.message).toContain('DATABRICKS_TOKEN');
    expect(error.message).toContain('unresolved Key Vault');
    expect(error.message).not.toContain('@Microsoft.KeyVault');
    expect(error.message).not.toContain('kv-abc123');
    expect(error.message).not.toContain('databricks-token');
  });

  it('recognises every form App Service leaves unresolved: SecretUri, VaultName/SecretName, any case, App Configuration', () => {
    const forms = [
      reference,
      '@Microsoft.KeyVault(VaultName=kv-abc123;SecretName=databricks-token)',
      '  @microsoft.keyvault( SecretUri=https://kv-abc123.vault.azure.net/secrets/x )',
      '@Microsoft.AppConfiguration(Endpoint=https://appcs.azconfig.io; Key=tunedrop:token)',
    ];
    for (const value of forms) {
      expect(unresolvedReferences({ DATABRICKS_TOKEN: value }), value).toEqual(['DATABRICKS_TOKEN']);
    }
  });

  it('names every unresolved setting, also ones whose own rule would otherwise quote the value', () => {
    const error = settingsError({
      ...azure,
      DATABRICKS_TOKEN: reference,
      TUNEDROP_INBOUND_WEBHOOK_SECRET:
        '@Microsoft.KeyVault(SecretUri=https://kv-abc123.vault.azure.net/secrets/inbound/)',
      TUNEDROP_POLL_INITIAL_SECONDS: '@Microsoft.KeyVault(SecretUri=https://kv-abc123.vault.azure.net/secrets/poll/)',
    });
    expect(error.unresolvedReferences.sort()).toEqual([
      'DATABRICKS_TOKEN',
      'TUNEDROP_INBOUND_WEBHOOK_SECRET',
      'TUNEDROP_POLL_INITIAL_SECONDS',
    ]);
    expect(error.problems).toHaveLength(3);
    expect(error.message).not.toContain('kv-abc123');
  });

  it('accepts the resolved secret, an empty token (Entra ID auth) and text that merely mentions Key Vault', () => {
    expect(loadSettings({ ...azure, DATABRICKS_TOKEN: 'dapi0123456789abcdef' }).databricks?.token).toBe(
      'dapi0123456789abcdef',
    );
    expect(loadSettings({ ...azure, DATABRICKS_TOKEN: '' }).databricks?.token).toBeUndefined();
    expect(unresolvedReferences({ TUNEDROP_EXPERIMENT_ROOT: '/Shared/@Microsoft.KeyVault(notes)' })).toEqual([]);
  });

  it('only looks at the settings tunedrop reads', () => {
    expect(unresolvedReferences({ SOME_OTHER_APP_SETTING: reference })).toEqual([]);
  });
});
