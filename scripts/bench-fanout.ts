/**
 * `npm run bench:fanout [-- --deliveries 1000]`
 *
 * What signed, SSRF-safe webhook delivery costs per event, side by side in one run against a local
 * receiver on 127.0.0.1 (so the network is not what is measured):
 *   reference  plain `fetch` POST of the same body (no signing, no address checks, keep-alive);
 *   safePost   shared/net/outbound's POST with Standard Webhooks headers (a fresh connection per
 *              request, DNS + address check inside the socket's lookup);
 *   delivery   the whole `deliverWebhooks` body (createWebhookServices.deliverEvent) for one
 *              subscription: parse the CloudEvent, find subscriptions, record the delivery and its
 *              outcome in Azure Tables (Azurite), sign, post.
 * Prints p50/p95 latency and sequential throughput for each, and the receiver's signature check.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { TableClient } from '@azure/data-tables';
import { startAzurite } from '../local/azurite';
import { ServiceBusStandIn } from '../local/servicebus/broker';
import { standInTopicScheduler } from '../local/servicebus/scheduler';
import { createEvent } from '../shared/events/cloudEvent';
import { safePost } from '../shared/net/outbound';
import { createWebhookServices, TopicDeliveryScheduler, verifyWebhook, webhookHeaders } from '../shared/webhooks';

const { values } = parseArgs({ options: { deliveries: { type: 'string', default: '1000' } } });
const count = Number(values.deliveries);

function event(i: number) {
  const runId = `run-bench${String(i).padStart(8, '0')}`;
  const time = new Date(Date.UTC(2026, 10, 27, 10, 0, 0, i)).toISOString();
  return createEvent('tunedrop.run.submitted', {
    subject: runId,
    team: 'bench',
    model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
    time,
    data: {
      runId,
      team: 'bench',
      dataset: 'support-bot',
      model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
      status: 'submitted',
      providerRunName: `meta-llama-3-1-8b-instruct-${i}`,
      submittedAt: time,
    },
  });
}

function stats(name: string, samples: number[], totalMs: number): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return `${name.padEnd(10)} p50 ${at(0.5).toFixed(2).padStart(6)} ms   p95 ${at(0.95).toFixed(2).padStart(6)} ms   ${((samples.length / totalMs) * 1000).toFixed(0).padStart(5)} deliveries/s`;
}

async function measure(run: (i: number) => Promise<void>): Promise<{ samples: number[]; totalMs: number }> {
  for (let i = 0; i < 20; i++) await run(-1 - i); // warm-up
  const samples: number[] = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await run(i);
    samples.push(performance.now() - t);
  }
  return { samples, totalMs: performance.now() - started };
}

async function main(): Promise<void> {
  let secret = '';
  let verified = 0;
  let received = 0;
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received++;
      const body = Buffer.concat(chunks).toString('utf8');
      if (secret && req.headers['webhook-signature']) {
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
        if (verifyWebhook(secret, headers, body).ok) verified++;
      }
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const target = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const azurite = await startAzurite();
  const standIn = await ServiceBusStandIn.open();
  try {
    const table = (name: string) =>
      TableClient.fromConnectionString(azurite.connectionString, name, { allowInsecureConnection: true });
    const services = createWebhookServices({
      subscriptionsTable: table('benchWebhooks'),
      deliveriesTable: table('benchDeliveries'),
      scheduler: new TopicDeliveryScheduler(standInTopicScheduler(standIn)),
      post: safePost,
      policy: { allowLoopbackHttp: true },
    });
    await services.ready();
    const subscription = await services.subscriptions.create({ team: 'bench', url: target });
    secret = subscription.secret;

    const body = JSON.stringify(event(0));
    const reference = await measure(async () => {
      const res = await fetch(target, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      await res.text();
    });
    const signed = await measure(async (i) => {
      const headers = webhookHeaders(secret, `msg_${i}_${randomUUID()}`, Math.floor(Date.now() / 1000), body);
      const result = await safePost(
        target,
        body,
        { ...headers, 'content-type': 'application/json' },
        {
          allowLoopbackHttp: true,
        },
      );
      if (!result.ok) throw new Error(`safePost failed: ${JSON.stringify(result)}`);
    });
    const delivery = await measure(async (i) => {
      const outcomes = await services.deliverEvent(event(i < 0 ? 1_000_000 - i : i + 1));
      if (outcomes.length !== 1) throw new Error(`expected one delivery, got ${outcomes.length}`);
    });

    console.log(
      `bench:fanout — ${count} sequential deliveries of a ${Buffer.byteLength(body)}-byte event to a receiver on 127.0.0.1`,
    );
    console.log(`machine: ${availableParallelism()} cores, load ${loadavg()[0]?.toFixed(2)}, Node ${process.version}`);
    console.log(stats('reference', reference.samples, reference.totalMs), ' (fetch, keep-alive, unsigned)');
    console.log(stats('safePost', signed.samples, signed.totalMs), ' (signed, address-checked, new connection)');
    console.log(stats('delivery', delivery.samples, delivery.totalMs), ' (deliverWebhooks body: + Azurite Tables)');
    console.log(
      `receiver: ${received} requests, ${verified} signatures verified (expected ${2 * count + 40} signed requests)`,
    );
  } finally {
    await standIn.close();
    await azurite.stop();
    receiver.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
