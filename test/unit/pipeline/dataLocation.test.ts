import { describe, expect, it } from 'vitest';
import {
  classifyDataLocation,
  clusterRuntimeProblem,
  dataLocationProblem,
  providerDataPath,
  tableColumnProblems,
} from '../../../shared/pipeline/dataLocation';

describe('data locations: drop, volume, Delta table', () => {
  it('classifies', () => {
    expect(classifyDataLocation('train.jsonl')).toEqual({ kind: 'drop', path: 'train.jsonl' });
    expect(classifyDataLocation('data.v2.jsonl')).toEqual({ kind: 'drop', path: 'data.v2.jsonl' });
    expect(classifyDataLocation('dbfs:/Volumes/main/ml/data/train.jsonl')).toMatchObject({
      kind: 'volume',
      catalog: 'main',
      schema: 'ml',
      volume: 'data',
      path: '/Volumes/main/ml/data/train.jsonl',
    });
    expect(classifyDataLocation('/Volumes/main/ml/data/texts')).toMatchObject({
      kind: 'volume',
      path: '/Volumes/main/ml/data/texts',
    });
    expect(classifyDataLocation('main.ml.support_chats')).toEqual({
      kind: 'table',
      catalog: 'main',
      schema: 'ml',
      table: 'support_chats',
      fullName: 'main.ml.support_chats',
    });
    expect(providerDataPath(classifyDataLocation('/Volumes/main/ml/data/t.jsonl') as never)).toBe(
      'dbfs:/Volumes/main/ml/data/t.jsonl',
    );
  });

  it('a team reads only its own schemas unless granted more', () => {
    const volume = classifyDataLocation('/Volumes/finance/secret/raw/train.jsonl');
    if (volume.kind === 'drop') throw new Error('not a volume');
    expect(dataLocationProblem('train', volume, ['ml.support'], 'support')).toMatchObject({
      code: 'data_location_not_allowed',
      message: expect.stringContaining('finance.secret.raw'),
    });
    expect(dataLocationProblem('train', volume, ['finance.secret'], 'support')).toBeUndefined();
    expect(dataLocationProblem('train', volume, ['finance.secretive'], 'support')?.code).toBe(
      'data_location_not_allowed',
    );
    const climbing = classifyDataLocation('/Volumes/ml/support/data/../../other/x.jsonl');
    if (climbing.kind !== 'volume') throw new Error('not a volume');
    expect(climbing.path).toBe('/Volumes/ml/other/x.jsonl');
    expect(dataLocationProblem('train', climbing, ['ml.support'], 'support')?.code).toBe('data_location_not_allowed');
  });

  it('columns per task', () => {
    const cols = (...names: string[]) => names.map((name) => ({ name }));
    expect(tableColumnProblems('train', 'a.b.c', 'chat', cols('messages'))).toEqual([]);
    expect(tableColumnProblems('train', 'a.b.c', 'chat', cols('prompt', 'response'))[0]).toMatchObject({
      code: 'table_missing_column',
      message: expect.stringContaining('"messages"'),
    });
    expect(tableColumnProblems('train', 'a.b.c', 'instruction', cols('prompt', 'completion'))).toEqual([]);
    expect(tableColumnProblems('train', 'a.b.c', 'instruction', cols('prompt')).map((p) => p.code)).toEqual([
      'table_missing_column',
    ]);
    expect(tableColumnProblems('train', 'a.b.c', 'continued_pretraining', cols('text'))[0]?.code).toBe(
      'table_task_not_supported',
    );
  });

  it('the data-prep cluster runs DBR 12.2 LTS ML or later', () => {
    expect(clusterRuntimeProblem('c1', '12.2.x-cpu-ml-scala2.12')).toBeUndefined();
    expect(clusterRuntimeProblem('c1', '15.4.x-gpu-ml-scala2.12')).toBeUndefined();
    expect(clusterRuntimeProblem('c1', '11.3.x-cpu-ml-scala2.12')?.code).toBe('cluster_runtime_too_old');
    expect(clusterRuntimeProblem('c1', '12.1.x-cpu-ml-scala2.12')?.code).toBe('cluster_runtime_too_old');
    expect(clusterRuntimeProblem('c1', '13.3.x-scala2.12')?.message).toContain('12.2 LTS ML');
  });
});
