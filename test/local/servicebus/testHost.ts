import { trigger } from '@azure/functions';
import { TOPOLOGY } from '../../../shared/events/topology';
import type {
  InvokeRequest,
  InvokeResult,
  LocalFunctionHost,
  RegisteredFunction,
} from '../../../shared/local/host/contract';

export type Handler = (request: InvokeRequest) => Promise<unknown>;

/**
 * Until shared/local/host lands: a LocalFunctionHost that calls plain handlers. The trigger binding
 * is the one @azure/functions' own `trigger.serviceBusTopic` builds for `app.serviceBusTopic`.
 */
export function hostWith(handlers: Record<string, { subscription: string; topic?: string; handler: Handler }>) {
  const functions = new Map<string, RegisteredFunction>();
  for (const [name, h] of Object.entries(handlers)) {
    const binding = trigger.serviceBusTopic({
      topicName: h.topic ?? TOPOLOGY.topic.name,
      subscriptionName: h.subscription,
      connection: 'ServiceBusConnection',
    });
    const info = { ...binding, direction: 'in' as const };
    functions.set(name, { name, bindings: { [binding.name]: info }, triggerBindingName: binding.name, trigger: info });
  }
  const host: LocalFunctionHost = {
    baseUrl: 'http://127.0.0.1:0',
    functions,
    storageConnectionString: '',
    addRoute: () => {},
    async invoke(request): Promise<InvokeResult> {
      const h = handlers[request.functionName];
      if (!h) throw new Error(`no function ${request.functionName}`);
      return { returnValue: await h.handler(request), outputs: {} };
    },
  };
  return host;
}
