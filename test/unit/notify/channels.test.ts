import { describe, expect, it } from 'vitest';
import { channelWants, decodeRunNotify, NotificationError, selectChannels } from '../../../shared/notify';
import type { TeamChannel } from '../../../shared/pipeline/teams';

const ops: TeamChannel = { name: 'ops', kind: 'teams', url: 'https://example.invalid/ops' };
const dev: TeamChannel = {
  name: 'dev',
  kind: 'slack',
  url: 'https://example.invalid/dev',
  events: ['tunedrop.run.submitted', 'tunedrop.run.completed'],
};
const names = (cs: TeamChannel[]) => cs.map((c) => c.name);

describe('channel selection', () => {
  it('filters by each channel’s events, defaults when it has none', () => {
    expect(names(selectChannels([ops, dev], undefined, 'tunedrop.run.failed'))).toEqual(['ops']);
    expect(names(selectChannels([ops, dev], undefined, 'tunedrop.run.submitted'))).toEqual(['dev']);
    expect(names(selectChannels([ops, dev], undefined, 'tunedrop.run.completed'))).toEqual(['dev']);
    expect(channelWants(ops, 'tunedrop.model.registered')).toBe(true);
  });

  it('the manifest’s notify list narrows, an empty list silences', () => {
    expect(names(selectChannels([ops, dev], ['dev'], 'tunedrop.run.failed'))).toEqual([]);
    expect(names(selectChannels([ops, dev], ['ops'], 'tunedrop.run.failed'))).toEqual(['ops']);
    expect(names(selectChannels([ops, dev], [], 'tunedrop.dataset.rejected'))).toEqual([]);
  });

  it('a rejection whose notify list names no configured channel still reaches the team', () => {
    expect(names(selectChannels([ops, dev], ['pager'], 'tunedrop.dataset.rejected'))).toEqual(['ops']);
    expect(names(selectChannels([ops, dev], ['pager'], 'tunedrop.run.failed'))).toEqual([]);
  });

  it('decodes the run record’s notify; garbage is a coded error', () => {
    expect(decodeRunNotify('r', undefined)).toBeUndefined();
    expect(decodeRunNotify('r', '["ops","dev"]')).toEqual(['ops', 'dev']);
    expect(() => decodeRunNotify('r', 'ops,dev')).toThrow(NotificationError);
    expect(() => decodeRunNotify('r', '[1]')).toThrow(/corrupt_run_record/);
  });
});
