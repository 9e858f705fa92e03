import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvocationContext } from '@azure/functions';
import type {
  ExtraRouteAuth,
  HttpRouteHandler,
  InvokeRequest,
  InvokeResult,
  LocalFunctionHost,
  RegisteredFunction,
} from '../../../../local/host/contract';

/**
 * A stand-in for the local Functions host, for engine tests only: it wraps handlers with the same
 * durable-functions code df.app.orchestration / df.app.activity use (createOrchestrator,
 * wrapActivityHandler) and round-trips values through JSON as the worker's RpcTypedData does.
 */
// Library boundary: these SDK internals are not in durable-functions' type declarations.
const { createOrchestrator } = require('durable-functions/lib/src/util/testingUtils') as {
  createOrchestrator(fn: unknown): (trigger: unknown, context: InvocationContext) => Promise<unknown>;
};
const { wrapActivityHandler } = require('durable-functions/lib/src/app') as {
  wrapActivityHandler(fn: unknown): (input: unknown, context: InvocationContext) => Promise<unknown>;
};

type Handler = (input: unknown, context: InvocationContext) => Promise<unknown>;

export class MiniHost implements LocalFunctionHost {
  readonly functions = new Map<string, RegisteredFunction>();
  private readonly handlers = new Map<string, Handler>();
  private readonly routes = new Map<string, HttpRouteHandler>();
  private server?: Server;
  baseUrl = '';

  constructor(readonly storageConnectionString: string) {}

  orchestration(name: string, fn: unknown): void {
    this.register(name, 'orchestrationTrigger', createOrchestrator(fn));
  }

  activity(name: string, fn: unknown): void {
    this.register(name, 'activityTrigger', wrapActivityHandler(fn));
  }

  private register(name: string, type: string, handler: Handler): void {
    const trigger = { type, direction: 'in' as const, name: 'trigger' };
    this.functions.set(name, { name, bindings: { trigger }, triggerBindingName: 'trigger', trigger });
    this.handlers.set(name, handler);
  }

  async invoke(request: InvokeRequest): Promise<InvokeResult> {
    const handler = this.handlers.get(request.functionName);
    if (!handler) throw new Error(`Function '${request.functionName}' is not registered`);
    const context = new InvocationContext({ functionName: request.functionName, logHandler: () => {} });
    const value = await handler(roundTrip(request.triggerValue), context);
    return { returnValue: roundTrip(value), outputs: {} };
  }

  /** Routes are served without the auth check (the real host's check is tested in test/local/host). */
  addRoute(pathPrefix: string, handler: HttpRouteHandler, _auth: ExtraRouteAuth): void {
    this.routes.set(pathPrefix, handler);
  }

  systemKey(name: string): string {
    return `mini-host-${name}-key`;
  }

  async listen(): Promise<void> {
    this.server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      for (const [prefix, handler] of this.routes) {
        if (path.startsWith(prefix)) return void handler(req, res);
      }
      res.writeHead(404).end();
    });
    const server = this.server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function roundTrip(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}
