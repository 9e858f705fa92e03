import { createRequire } from 'node:module';
import path from 'node:path';
import type { AppAdapters } from '../shared/compositionRoot';
import type { RuntimeServices } from './runtime';
import { localEventPublisher } from './servicebus/publisher';
import { standInTopicScheduler } from './servicebus/scheduler';

/** Where the hosted tunedrop app keeps its composition root (package.json `main` loads functions from dist/ too). */
export const COMPOSITION_ROOT_MODULE = 'dist/shared/compositionRoot.js';

/**
 * What the local runtime runs the app with instead of Azure's adapters: events and scheduled
 * retries go to the Service Bus stand-in running in this process, and webhooks/Teams/Slack may be
 * plain http to loopback (the local webhook inbox).
 */
export function localAdapters(): AppAdapters {
  return {
    publisher: localEventPublisher(),
    topicScheduler: standInTopicScheduler(),
    outboundPolicy: { allowLoopbackHttp: true },
  };
}

/**
 * The runtime's `configureApp` step for the tunedrop app: hands localAdapters() to the app's
 * composition root through its override point. The module is required from the app's own root,
 * so it is the very instance the app's functions (loaded from dist/) use.
 */
export function configureTunedropApp(services: Pick<RuntimeServices, 'appRoot'>): void {
  const appRequire = createRequire(path.join(services.appRoot, 'package.json'));
  const root = appRequire(path.join(services.appRoot, COMPOSITION_ROOT_MODULE)) as {
    overrideAdapters(adapters: Partial<AppAdapters>): void;
  };
  root.overrideAdapters(localAdapters());
}
