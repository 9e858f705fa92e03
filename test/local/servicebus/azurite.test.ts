import { TableClient } from '@azure/data-tables';
import { describe, expect, inject, it } from 'vitest';
import { ServiceBusStandIn } from '../../../shared/local/servicebus/broker';
import { VirtualClock } from '../../../shared/local/servicebus/clock';
import { TableBrokerStore } from '../../../shared/local/servicebus/store';

async function storeOn(tableName: string) {
  const table = TableClient.fromConnectionString(inject('azurite').connectionString, tableName, {
    allowInsecureConnection: true,
  });
  const store = new TableBrokerStore(table);
  await store.ensure();
  return store;
}

describe('Service Bus stand-in on Azurite tables', () => {
  it('keeps messages, locks, dead letters and duplicate history across a restart', async () => {
    const clock = new VirtualClock(Date.parse('2026-11-27T10:00:00Z'));
    const big = { text: 'é'.repeat(70_000), nested: { list: [1, 2, 3] } };
    const first = await ServiceBusStandIn.open({ store: await storeOn('sbRestart'), clock });
    const props = (type: string) => ({ type, team: 'nlp', model: 'm' });
    await first.publish({
      messageId: 'a',
      body: big,
      applicationProperties: props('tunedrop.run.completed'),
      subject: 'run-1',
      contentType: 'application/cloudevents+json',
    });
    await first.publish({ messageId: 'b', body: { n: 2 }, applicationProperties: props('tunedrop.run.failed') });
    await first.schedule(
      { messageId: 'c', body: 'later', applicationProperties: props('tunedrop.run.failed') },
      new Date(clock.now() + 60_000),
    );
    const [inflight] = await first.receive('register-model');
    expect(inflight?.messageId).toBe('a');
    const [poison] = await first.receive('notify-teams');
    await first.deadLetter(poison!, { deadLetterReason: 'test' });
    await first.close(); // "crash": 'a' locked, never completed

    const second = await ServiceBusStandIn.open({ store: await storeOn('sbRestart'), clock });
    const [redelivered] = await second.receive('register-model');
    expect(redelivered).toMatchObject({
      messageId: 'a',
      deliveryCount: 2,
      subject: 'run-1',
      contentType: 'application/cloudevents+json',
      applicationProperties: props('tunedrop.run.completed'),
      enqueuedTimeUtc: new Date('2026-11-27T10:00:00Z'),
    });
    expect(JSON.stringify(redelivered?.body).length).toBe(JSON.stringify(big).length);
    expect(redelivered?.body).toEqual(big);
    await second.complete(redelivered!);
    expect((await second.peekDeadLetters('notify-teams')).map((m) => [m.messageId, m.deadLetterReason])).toEqual([
      ['a', 'test'],
    ]);
    expect((await second.peek('notify-teams')).map((m) => m.messageId)).toEqual(['b', 'c']);
    expect((await second.publish({ messageId: 'b', body: {} })).status).toBe('duplicate');
    expect((await second.publish({ messageId: 'd', body: {} })).sequenceNumber).toBe(4);
    clock.advance(60_000);
    expect((await second.receive('notify-teams', { maxMessages: 5 })).map((m) => m.messageId)).toEqual(['b', 'c']);
    await second.close();

    const third = await ServiceBusStandIn.open({ store: await storeOn('sbRestart'), clock });
    expect(await third.peek('register-model')).toEqual([]);
    expect((await third.peek('webhooks')).map((m) => m.messageId)).toEqual(['a', 'b', 'c', 'd']);
    await third.close();
  });
});
