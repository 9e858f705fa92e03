import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { TunedropEvent } from '../../../shared/events';
import { describeEvent, renderTeamsMessage } from '../../../shared/notify';
import { EVENTS, runRecord } from './events';

/**
 * The cards checked by Microsoft's own Adaptive Cards SDK (npm `adaptivecards`, the renderer's
 * object model; its UMD bundle parses without a DOM): every element and action type known, every
 * property value accepted, for the schema version Teams renders (1.5).
 */
interface SerializationContextLike {
  targetVersion: unknown;
  eventCount: number;
  getEventAt(i: number): { message: string };
}
interface AdaptiveCardsSdk {
  AdaptiveCard: new () => {
    parse(json: unknown, context: SerializationContextLike): void;
    getAllInputs(): unknown[];
    getActionCount(): number;
  };
  SerializationContext: new () => SerializationContextLike;
  Versions: { v1_5: unknown };
}
const sdk = createRequire(__filename)('adaptivecards/dist/adaptivecards.js') as AdaptiveCardsSdk;

const links = { publicBaseUrl: 'https://tunedrop.example.com/', databricksHost: 'https://adb-1.2.azuredatabricks.net' };

function parseWithSdk(card: unknown): { messages: string[]; actions: number } {
  const context = new sdk.SerializationContext();
  context.targetVersion = sdk.Versions.v1_5;
  const parsed = new sdk.AdaptiveCard();
  parsed.parse(card, context);
  const messages = Array.from({ length: context.eventCount }, (_, i) => context.getEventAt(i).message);
  return { messages, actions: parsed.getActionCount() };
}

describe('Teams cards through the Adaptive Cards SDK', () => {
  it('catches what it should: an unknown element and an invalid property value are reported', () => {
    const { messages } = parseWithSdk({
      type: 'AdaptiveCard',
      version: '1.5',
      body: [
        { type: 'NotAnElement', text: 'x' },
        { type: 'TextBlock', text: 'x', weight: 'Heavy' },
      ],
    });
    expect(messages.join('\n')).toMatch(/NotAnElement/);
    expect(messages.join('\n')).toMatch(/"Heavy" for property "weight"/);
  });

  it.each(Object.entries(EVENTS) as [string, TunedropEvent][])(
    '%s: parses with no warning or error, with its link actions',
    (_, event) => {
      const message = renderTeamsMessage(describeEvent(event, runRecord(), links));
      const card = message.attachments[0]?.content;
      expect(card).toBeDefined();
      const { messages, actions } = parseWithSdk(card);
      expect(messages).toEqual([]);
      expect(actions).toBeGreaterThan(0);
    },
  );
});
