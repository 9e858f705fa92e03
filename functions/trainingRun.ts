import * as df from 'durable-functions';
import { trainingRunOrchestrator } from '../shared/pipeline/orchestration';
import { TRAINING_RUN_ORCHESTRATION } from '../shared/pipeline/runContracts';

df.app.orchestration(TRAINING_RUN_ORCHESTRATION, trainingRunOrchestrator);
