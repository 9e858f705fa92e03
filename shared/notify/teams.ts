import { z } from 'zod';
import { clip, type Notice, OUTCOME_EMOJI, type Outcome } from './notice';

/**
 * Teams limits Adaptive Cards to schema 1.5 (Microsoft: "Teams is also limited to version 1.5");
 * everything this card uses (Container style, FactSet, RichTextBlock, Action.OpenUrl) exists since 1.2.
 */
export const ADAPTIVE_CARD_VERSION = '1.5';
export const ADAPTIVE_CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';

const CONTAINER_STYLE: Record<Outcome, 'good' | 'attention' | 'warning' | 'accent'> = {
  success: 'good',
  failure: 'attention',
  warning: 'warning',
  info: 'accent',
};
const TEXT_COLOR: Record<Outcome, 'Good' | 'Attention' | 'Warning' | 'Accent'> = {
  success: 'Good',
  failure: 'Attention',
  warning: 'Warning',
  info: 'Accent',
};

/**
 * TextBlock and FactSet text is markdown in Teams: `[x](https://…)` in a dataset name would become a
 * disguised link. A zero-width space between `]` and `(` breaks the link syntax and looks identical.
 * Free text (reasons) goes into RichTextBlock TextRuns, which Teams never parses as markdown.
 */
export function defangTeamsMarkdown(text: string): string {
  return text.replace(/\]\s*\(/g, ']\u200B(');
}

// The subset of the Adaptive Card schema this renderer emits, checked offline by the tests and
// before every post (a card Teams cannot render is an error here, not a silent blank message).
const textBlock = z.strictObject({
  type: z.literal('TextBlock'),
  text: z.string().min(1),
  wrap: z.boolean().optional(),
  weight: z.enum(['Default', 'Lighter', 'Bolder']).optional(),
  size: z.enum(['Default', 'Small', 'Medium', 'Large', 'ExtraLarge']).optional(),
  color: z.enum(['Default', 'Dark', 'Light', 'Accent', 'Good', 'Warning', 'Attention']).optional(),
  isSubtle: z.boolean().optional(),
  spacing: z.enum(['None', 'Small', 'Default', 'Medium', 'Large', 'ExtraLarge', 'Padding']).optional(),
});
const richTextBlock = z.strictObject({
  type: z.literal('RichTextBlock'),
  inlines: z.array(z.strictObject({ type: z.literal('TextRun'), text: z.string().min(1) })).min(1),
  spacing: z.enum(['None', 'Small', 'Default', 'Medium']).optional(),
});
const factSet = z.strictObject({
  type: z.literal('FactSet'),
  facts: z.array(z.strictObject({ title: z.string().min(1), value: z.string() })).min(1),
});
const container = z.strictObject({
  type: z.literal('Container'),
  style: z.enum(['default', 'emphasis', 'good', 'attention', 'warning', 'accent']).optional(),
  bleed: z.boolean().optional(),
  items: z.array(z.union([textBlock, richTextBlock, factSet])).min(1),
});
const openUrl = z.strictObject({
  type: z.literal('Action.OpenUrl'),
  title: z.string().min(1),
  url: z.url({ protocol: /^https?$/ }),
});

export const adaptiveCardSchema = z.strictObject({
  type: z.literal('AdaptiveCard'),
  $schema: z.literal('http://adaptivecards.io/schemas/adaptive-card.json'),
  version: z.string().regex(/^1\.[0-5]$/, 'Teams renders Adaptive Cards up to 1.5'),
  msteams: z.strictObject({ width: z.literal('Full') }).optional(),
  fallbackText: z.string().optional(),
  body: z.array(z.union([textBlock, richTextBlock, factSet, container])).min(1),
  actions: z.array(openUrl).max(6).optional(),
});

/** The body a Teams Workflows "Post to a channel when a webhook request is received" flow expects. */
export const teamsWorkflowMessageSchema = z.strictObject({
  type: z.literal('message'),
  attachments: z
    .array(
      z.strictObject({
        contentType: z.literal(ADAPTIVE_CARD_CONTENT_TYPE),
        contentUrl: z.null(),
        content: adaptiveCardSchema,
      }),
    )
    .length(1),
});

export type AdaptiveCard = z.infer<typeof adaptiveCardSchema>;
export type TeamsWorkflowMessage = z.infer<typeof teamsWorkflowMessageSchema>;

/** Teams rejects messages over ~28 KB; this card stays far below (reasons are capped upstream). */
export function renderTeamsCard(notice: Notice): AdaptiveCard {
  const heading = `${OUTCOME_EMOJI[notice.outcome]} ${notice.title}`;
  const subtitle = defangTeamsMarkdown(`${notice.team} / ${notice.dataset || 'unknown dataset'}`);
  const body: AdaptiveCard['body'] = [
    {
      type: 'Container',
      style: CONTAINER_STYLE[notice.outcome],
      bleed: true,
      items: [
        {
          type: 'TextBlock',
          text: heading,
          weight: 'Bolder',
          size: 'Medium',
          color: TEXT_COLOR[notice.outcome],
          wrap: true,
        },
        { type: 'TextBlock', text: subtitle, isSubtle: true, spacing: 'None', wrap: true },
      ],
    },
    {
      type: 'FactSet',
      facts: notice.facts.map((f) => ({ title: f.label, value: defangTeamsMarkdown(clip(f.value, 500)) || '—' })),
    },
  ];
  if (notice.reasons.length) {
    body.push({ type: 'TextBlock', text: whyHeading(notice), weight: 'Bolder', wrap: true, spacing: 'Medium' });
    for (const reason of notice.reasons) {
      body.push({ type: 'RichTextBlock', inlines: [{ type: 'TextRun', text: reason }], spacing: 'Small' });
    }
  }
  if (notice.advice) {
    body.push({ type: 'TextBlock', text: 'After evaluation', weight: 'Bolder', wrap: true, spacing: 'Medium' });
    body.push({ type: 'RichTextBlock', inlines: [{ type: 'TextRun', text: notice.advice }], spacing: 'Small' });
  }
  body.push({
    type: 'TextBlock',
    text: defangTeamsMarkdown(`Run ${notice.runId} · ${notice.time}`),
    isSubtle: true,
    size: 'Small',
    wrap: true,
    spacing: 'Medium',
  });
  const card: AdaptiveCard = {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: ADAPTIVE_CARD_VERSION,
    msteams: { width: 'Full' },
    fallbackText: defangTeamsMarkdown(`${notice.title}: ${notice.team}/${notice.dataset}`),
    body,
  };
  if (notice.links.length) {
    card.actions = notice.links.slice(0, 6).map((l) => ({ type: 'Action.OpenUrl', title: l.label, url: l.url }));
  }
  return card;
}

export function renderTeamsMessage(notice: Notice): TeamsWorkflowMessage {
  return {
    type: 'message',
    attachments: [{ contentType: ADAPTIVE_CARD_CONTENT_TYPE, contentUrl: null, content: renderTeamsCard(notice) }],
  };
}

export function whyHeading(notice: Notice): string {
  if (notice.eventType === 'tunedrop.dataset.rejected') return 'Why it was rejected';
  if (notice.eventType === 'tunedrop.run.cancelled') return 'Reason';
  if (notice.eventType === 'tunedrop.catalog.changed') return 'What changed';
  return 'What went wrong';
}
