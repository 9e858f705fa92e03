import { z } from 'zod';
import { clip, type Notice, OUTCOME_EMOJI } from './notice';
import { whyHeading } from './teams';

/**
 * Slack's control characters in text objects are `&`, `<`, `>` (`<url|label>` links, `<!channel>`
 * mentions); escaping exactly these three is what Slack asks for, and it makes user strings inert.
 */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escape, then cut to `max` characters without splitting an `&amp;`-style entity. */
export function escapeSlackClipped(text: string, max: number): string {
  const escaped = escapeSlack(text);
  if (escaped.length <= max) return escaped;
  let cut = escaped.slice(0, max - 1);
  const amp = cut.lastIndexOf('&');
  if (amp !== -1 && !cut.slice(amp).includes(';')) cut = cut.slice(0, amp);
  return `${cut}…`;
}

// Block Kit limits (https://api.slack.com/reference/block-kit): header 150, section text 3000,
// field 2000 (max 10 fields), button text 75, button url 3000, actions 25 elements.
const plainText = (max: number) =>
  z.strictObject({ type: z.literal('plain_text'), text: z.string().min(1).max(max), emoji: z.boolean().optional() });
const mrkdwn = (max: number) => z.strictObject({ type: z.literal('mrkdwn'), text: z.string().min(1).max(max) });

const slackBlockSchema = z.union([
  z.strictObject({ type: z.literal('header'), text: plainText(150) }),
  z.strictObject({ type: z.literal('section'), fields: z.array(mrkdwn(2000)).min(1).max(10) }),
  z.strictObject({ type: z.literal('section'), text: mrkdwn(3000) }),
  z.strictObject({ type: z.literal('context'), elements: z.array(mrkdwn(3000)).min(1).max(10) }),
  z.strictObject({
    type: z.literal('actions'),
    elements: z
      .array(
        z.strictObject({
          type: z.literal('button'),
          action_id: z.string().min(1).max(255),
          text: plainText(75),
          url: z.url({ protocol: /^https?$/ }).max(3000),
        }),
      )
      .min(1)
      .max(25),
  }),
]);

export const slackMessageSchema = z.strictObject({
  text: z.string().min(1).max(3000),
  blocks: z.array(slackBlockSchema).min(1).max(50),
});

export type SlackMessage = z.infer<typeof slackMessageSchema>;
type SlackBlock = SlackMessage['blocks'][number];

/** Slack incoming-webhook body: `text` is the notification/fallback line, `blocks` the message. */
export function renderSlackMessage(notice: Notice): SlackMessage {
  const emoji = OUTCOME_EMOJI[notice.outcome];
  const where = `${notice.team}/${notice.dataset || 'unknown dataset'}`;
  const model = notice.registered ? ` → ${notice.registered.model} v${notice.registered.version}` : '';
  const blocks: SlackBlock[] = [
    // Header text is plain_text (not parsed for links or mentions); only fixed words go in it.
    { type: 'header', text: { type: 'plain_text', text: `${emoji} ${notice.title}`, emoji: true } },
    {
      type: 'section',
      fields: notice.facts.slice(0, 10).map((f) => ({
        type: 'mrkdwn' as const,
        text: `*${f.label}*\n${escapeSlackClipped(f.value || '—', 1900)}`,
      })),
    },
  ];
  if (notice.reasons.length) {
    const lines = notice.reasons.map((r) => `• ${escapeSlackClipped(r, 500)}`);
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*${whyHeading(notice)}*\n${lines.join('\n')}` } });
  }
  if (notice.advice) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `*After evaluation*\n${escapeSlack(notice.advice)}` },
    });
  }
  blocks.push({
    type: 'context',
    elements: [
      { type: 'mrkdwn', text: `Run \`${escapeSlackClipped(notice.runId, 200)}\` · ${escapeSlack(notice.time)}` },
    ],
  });
  const linkable = notice.links.filter((l) => l.url.length <= 3000);
  if (linkable.length) {
    blocks.push({
      type: 'actions',
      elements: linkable.map((l, i) => ({
        type: 'button' as const,
        action_id: `tunedrop-link-${i}`,
        text: { type: 'plain_text' as const, text: clip(l.label, 75) },
        url: l.url,
      })),
    });
  }
  return { text: escapeSlackClipped(`${emoji} ${notice.title}: ${where}${model}`, 3000), blocks };
}
