import { describe, expect, it } from 'vitest';
import { loadSettings, SettingsError } from '../../../shared/config/settings';

const base = { AzureWebJobsStorage: 'UseDevelopmentStorage=true' };

describe('TUNEDROP_WEBHOOK_RETRY_SECONDS', () => {
  it('is the built-in schedule when unset, and a list of delays when set', () => {
    expect(loadSettings(base).webhookRetrySeconds).toBeUndefined();
    expect(loadSettings({ ...base, TUNEDROP_WEBHOOK_RETRY_SECONDS: '0, 1,1' }).webhookRetrySeconds).toEqual([0, 1, 1]);
  });

  it('refuses anything but whole seconds, naming the setting', () => {
    for (const bad of ['0,1.5', '0,-1', 'soon', '0,,1']) {
      let error: unknown;
      try {
        loadSettings({ ...base, TUNEDROP_WEBHOOK_RETRY_SECONDS: bad });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(SettingsError);
      expect((error as SettingsError).problems.join('\n')).toContain('TUNEDROP_WEBHOOK_RETRY_SECONDS');
    }
  });
});
