import { TRAINING_PROVIDERS, type TrainingProviderId } from '../catalog';
import { createEvent, type EventPublisher, type TunedropEvent } from '../events';
import type { RunIndex } from '../registry/runIndex';
import type { RunStatus } from '../runStatus';
import type { AzureOpenAITrainingProvider } from '../training/azureOpenAI';
import {
  isProviderError,
  ProviderError,
  type TrainingProvider,
  type TrainingRunInfo,
  type TrainingRunRef,
} from '../training/provider';
import { type BlobSource, type FilesApiClient, type StagingConfig, stageTrainingData } from '../training/staging';
import type {
  RecordRunEventInput,
  RunRefInput,
  RunState,
  StagedData,
  SubmitInput,
  TrainingRunInput,
} from './runContracts';

/** What the trainingRun activities need; functions/ builds it once per process from settings. */
export interface RunActivityDeps {
  /** The Databricks provider (runs without a provider field are Databricks runs). */
  provider: TrainingProvider;
  providerName: string;
  /** The Azure OpenAI provider, when this deployment has an Azure OpenAI connection. */
  azureOpenAI?: AzureOpenAITrainingProvider;
  staging: { config: StagingConfig; datasetsContainer: string; blobs: BlobSource; files?: FilesApiClient };
  runIndex: RunIndex;
  publisher: EventPublisher;
  experimentRoot?: string;
}

/** The provider of a run; a missing Azure OpenAI connection is a coded, non-retryable error. */
export function providerFor(
  deps: Pick<RunActivityDeps, 'provider' | 'azureOpenAI'>,
  id: TrainingProviderId | undefined,
): TrainingProvider {
  if (id !== 'azure-openai') return deps.provider;
  if (!deps.azureOpenAI) throw new ProviderError('bad_request', 'no Azure OpenAI connection is configured');
  return deps.azureOpenAI;
}

/**
 * A run's provider and the ref its provider run is addressed by, from the provider id a run
 * carries (`undefined`: a run from before the second provider, Databricks). An id no provider has
 * is a coded, non-retryable error, never a silent Databricks call.
 */
export function runProvider(
  deps: Pick<RunActivityDeps, 'provider' | 'providerName' | 'azureOpenAI'>,
  id: string | undefined,
): { provider: TrainingProvider; ref(name: string): TrainingRunRef } {
  if (id !== undefined && !(TRAINING_PROVIDERS as readonly string[]).includes(id)) {
    throw new ProviderError('bad_request', `unknown training provider "${id.slice(0, 40)}"`);
  }
  const provider = providerFor(deps, id as TrainingProviderId | undefined);
  const providerName = id === 'azure-openai' ? 'azure-openai' : deps.providerName;
  return { provider, ref: (name) => ({ provider: providerName, name }) };
}

export async function stageTrainingDataActivity(deps: RunActivityDeps, input: TrainingRunInput): Promise<StagedData> {
  if (input.trainDataPath) {
    // In a volume or a Delta table already: the service reads it there.
    return { trainDataPath: input.trainDataPath, evalDataPath: input.evalDataPath };
  }
  if (input.provider === 'azure-openai') return stageForAzureOpenAI(deps, input);
  const folder = `${input.team}/${input.dataset}`;
  const staged = await stageTrainingData(
    deps.staging.config,
    {
      container: deps.staging.datasetsContainer,
      folder,
      train: input.trainBlob.slice(folder.length + 1),
      eval: input.evalBlob?.slice(folder.length + 1),
      uploadId: input.runId,
      kind: input.task === 'continued_pretraining' ? 'folder' : 'file',
    },
    { blobs: deps.staging.blobs, files: deps.staging.files },
  );
  return { trainDataPath: staged.trainDataPath, evalDataPath: staged.evalDataPath };
}

/**
 * Azure OpenAI: stream the training (and eval) file from blob into the service and wait until it
 * is processed. A file the service rejects ends the run as failed with the service's reason.
 */
async function stageForAzureOpenAI(deps: RunActivityDeps, input: TrainingRunInput): Promise<StagedData> {
  const azure = providerFor(deps, 'azure-openai') as AzureOpenAITrainingProvider;
  try {
    const train = await azure.stageFile(input.runId, 'train', () => deps.staging.blobs.open(input.trainBlob));
    const evalFile = input.evalBlob
      ? await azure.stageFile(input.runId, 'eval', () => deps.staging.blobs.open(input.evalBlob as string))
      : undefined;
    return { trainDataPath: train.id, evalDataPath: evalFile?.id };
  } catch (e) {
    if (isProviderError(e, 'file_rejected')) return { trainDataPath: '', rejected: e.message };
    throw e;
  }
}

export async function submitTrainingRunActivity(deps: RunActivityDeps, input: SubmitInput): Promise<RunState> {
  const provider = providerFor(deps, input.provider);
  const common = {
    model: input.model,
    task: input.task,
    trainDataPath: input.staged.trainDataPath,
    evalDataPath: input.staged.evalDataPath,
    registerTo: input.registerTo,
    trainingDuration: input.trainingDuration,
  };
  // Each provider gets only the hyperparameters it takes.
  const spec =
    input.provider === 'azure-openai'
      ? {
          ...common,
          batchSize: input.batchSize,
          learningRateMultiplier: input.learningRateMultiplier,
          seed: input.seed,
          suffix: input.suffix,
        }
      : {
          ...common,
          learningRate: input.learningRate,
          contextLength: input.contextLength,
          customWeightsPath: input.customWeightsPath,
          dataPrepClusterId: input.dataPrepClusterId,
          experimentPath: deps.experimentRoot,
        };
  const ref = await provider.create(spec, input.runId);
  return toRunState(await provider.get(ref));
}

export async function getTrainingRunStatusActivity(deps: RunActivityDeps, input: RunRefInput): Promise<RunState> {
  const { provider, ref } = runProvider(deps, input.provider);
  return toRunState(await provider.get(ref(input.providerRunName)));
}

/** Cancelling a run that already ended is not a failure: the next status poll reports how it ended. */
export async function cancelTrainingRunActivity(
  deps: RunActivityDeps,
  input: RunRefInput,
): Promise<{ alreadyFinished: boolean }> {
  try {
    const { provider, ref } = runProvider(deps, input.provider);
    await provider.cancel(ref(input.providerRunName));
    return { alreadyFinished: false };
  } catch (err) {
    if (isProviderError(err, 'already_finished')) return { alreadyFinished: true };
    throw err;
  }
}

export function toRunState(info: TrainingRunInfo): RunState {
  return {
    providerRunName: info.ref.name,
    status: info.status,
    rawStatus: info.rawStatus,
    reason: info.reason,
    registeredModel: info.registeredModel?.name,
    registeredVersion: info.registeredModel?.version !== undefined ? String(info.registeredModel.version) : undefined,
    mlflowExperimentId: info.mlflow?.experimentId,
    mlflowRunId: info.mlflow?.runId,
  };
}

/** Update the run index, then publish the event. Both are idempotent, so an activity retry is harmless. */
export async function recordRunEventActivity(
  deps: { runIndex: Pick<RunIndex, 'upsert'>; publisher: EventPublisher },
  input: RecordRunEventInput,
): Promise<void> {
  const status: RunStatus = input.status;
  const terminal = input.type !== 'tunedrop.run.submitted' && input.type !== 'tunedrop.run.status_changed';
  await deps.runIndex.upsert({
    runId: input.run.runId,
    status,
    rawStatus: input.state?.rawStatus,
    reason: input.state?.reason,
    providerRunName: input.state?.providerRunName || undefined,
    registeredModel: input.state?.registeredModel,
    registeredVersion: input.state?.registeredVersion,
    mlflowExperimentId: input.state?.mlflowExperimentId,
    mlflowRunId: input.state?.mlflowRunId,
    updatedAt: input.time,
    completedAt: terminal ? input.time : undefined,
  });
  await deps.publisher.publish(runEventFor(input));
}

export function runEventFor(input: RecordRunEventInput): TunedropEvent {
  const { run, state, time } = input;
  const base = {
    runId: run.runId,
    team: run.team,
    dataset: run.dataset,
    model: run.model,
    // Empty when nothing was submitted (the provider refused the data before a run existed).
    providerRunName: state?.providerRunName || undefined,
    status: input.status,
    rawStatus: state?.rawStatus,
  };
  const envelope = { subject: run.runId, team: run.team, model: run.model, time };
  switch (input.type) {
    case 'tunedrop.run.submitted':
      return createEvent(input.type, {
        ...envelope,
        factKey: input.factKey,
        data: { ...base, providerRunName: state?.providerRunName ?? 'unknown', submittedAt: time },
      });
    case 'tunedrop.run.status_changed': {
      const sequence = Number(input.factKey.split(':')[0]);
      return createEvent(input.type, {
        ...envelope,
        data: { ...base, previousStatus: input.previousStatus ?? 'pending', sequence },
      });
    }
    case 'tunedrop.run.completed':
      return createEvent(input.type, {
        ...envelope,
        data: {
          ...base,
          endedAt: time,
          registeredModel: state?.registeredModel,
          registeredVersion: state?.registeredVersion,
          mlflowExperimentId: state?.mlflowExperimentId,
          mlflowRunId: state?.mlflowRunId,
        },
      });
    case 'tunedrop.run.failed':
      return createEvent(input.type, {
        ...envelope,
        data: { ...base, endedAt: time, reason: state?.reason || 'the provider reported the run as failed' },
      });
    case 'tunedrop.run.cancelled':
      return createEvent(input.type, { ...envelope, data: { ...base, endedAt: time, reason: state?.reason } });
    case 'tunedrop.run.timed_out':
      return createEvent(input.type, {
        ...envelope,
        data: { ...base, endedAt: time, reason: state?.reason, deadline: time },
      });
  }
}
