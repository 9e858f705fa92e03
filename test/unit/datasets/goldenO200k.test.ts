import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { get_encoding } from 'tiktoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { content, hardText, rng } from '../../../scripts/varied-text';
import { defaultCatalog } from '../../../shared/catalog';
import { createExampleCounter, loadTokenCounter, type TokenCounter, templateFor } from '../../../shared/datasets';
import { countOpenAIChat, parseOpenAIChat } from '../../../shared/datasets/openaiChat';
import type { ChatMessage } from '../../../shared/datasets/templates';
import { O200K_SPECIAL_TOKENS } from '../../../shared/datasets/tokenizers';

const golden = readFileSync(join(__dirname, '../../golden/chat-golden.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => (JSON.parse(line) as { messages: ChatMessage[] }).messages);
const texts = [...new Set(golden.flatMap((m) => m.map((x) => x.content)))];

/** Strings aimed at where the o200k pattern differs from cl100k's: case runs, contractions, marks, `/`. */
const EDGE_CASES = [
  "HELLOworld HelloWORLD hELLO I'M you'RE they'll WE'VE she'd",
  'CamelCaseIdentifiers and snake_case_names and SCREAMING_CASE',
  'path/to/file.ts //comment ///triple ?/ !/\n/',
  'café naïve résumé Ångström e\u0301 a\u0308',
  '1234567 12 3.14159 1,000,000 ٣٤٥٦ ①②③',
  '   leading spaces\n\n\n  \t trailing  \r\n\r\nCRLF  ',
  'Здравствуйте, мир! ΑΒΓ αβγ ǅungla',
  '日本語のテキスト 한국어 텍스트 中文文本',
  '👩‍👩‍👧‍👦 emoji 🎉🎉 flags 🇩🇪🇫🇷',
  '<|endoftext|> inside text and <|endofprompt|> too, <|im_start|> is not special here',
  "'s 't 're alone 'S 'T 'RE ''ll",
  '\u00a0nbsp\u2009thin\u3000ideographic space',
];

describe('o200k_base: counts equal tiktoken on the golden corpus', () => {
  let o200k: TokenCounter;
  const tiktoken = get_encoding('o200k_base');
  beforeAll(async () => {
    o200k = (await loadTokenCounter('o200k'))!;
  });
  afterAll(() => tiktoken.free());

  it('every golden text and edge case', () => {
    expect(texts.length).toBeGreaterThan(50);
    for (const text of [...texts, ...EDGE_CASES]) {
      expect({ text, n: o200k.count(text) }).toEqual({ text, n: tiktoken.encode(text, 'all').length });
    }
  });

  it('whitespace is Unicode White_Space as in tiktoken: U+FEFF is not, U+0085 is', () => {
    for (const text of ['  \ufeff\n', 'a \ufeffb', 'x\u0085\u0085y', '\u0085\n']) {
      expect({ text, n: o200k.count(text) }).toEqual({ text, n: tiktoken.encode(text, 'all').length });
    }
  });

  it('3,000 generated hard texts and 20,000 short strings of tricky characters equal tiktoken', () => {
    const r = rng(23);
    const sample = Array.from({ length: 3000 }, (_, i) => (i % 12 === 0 ? content(r) : hardText(r)));
    expect(sample.some((t) => t.includes('\ufeff'))).toBe(true);
    const pieces = Array.from(
      "abSst'’ſK\u212A \t\n\r\u0085\ufeff\u00a0\u2028\u3000\u200b1٣é\u0301汉한😀-/<|.ǅʰᾈⅫ①\u0000\u001fßİﬀ$_",
    );
    for (let k = 0; k < 20_000; k++) {
      sample.push(
        Array.from({ length: 1 + Math.floor(r() * 12) }, () => pieces[Math.floor(r() * pieces.length)]).join(''),
      );
    }
    expect(sample.filter((t) => o200k.count(t) !== tiktoken.encode(t, 'all').length)).toEqual([]);
  });

  it('special tokens are the tiktoken table and count as one each', () => {
    expect(O200K_SPECIAL_TOKENS).toEqual({ '<|endoftext|>': 199999, '<|endofprompt|>': 200018 });
    expect(o200k.findSpecialTokens('a <|endoftext|> b')).toEqual(['<|endoftext|>']);
    expect(o200k.count('<|endoftext|>')).toBe(1);
  });

  it('every golden row, counted with the OpenAI chat recipe, equals the same recipe over tiktoken', () => {
    const model = defaultCatalog.find('gpt-4o-2024-08-06')!;
    expect(model.tokenizer).toBe('o200k');
    const counter = createExampleCounter(templateFor(model)!, o200k);
    golden.forEach((messages, row) => {
      let expected = 3;
      for (const m of messages)
        expected += 3 + tiktoken.encode(m.role).length + tiktoken.encode(m.content, 'all').length;
      expect({ row, n: counter.chat(messages).tokens }).toEqual({ row, n: expected });
    });
  });

  it('weight 0 assistant turns are billed but not trainable', () => {
    const parsed = parseOpenAIChat({
      messages: [
        { role: 'user', content: 'Capital of France?' },
        { role: 'assistant', content: 'Paris', weight: 0 },
        { role: 'user', content: 'More sarcastic?' },
        { role: 'assistant', content: 'Paris, as if you did not know.', weight: 1 },
      ],
    });
    if ('problem' in parsed) throw new Error(parsed.problem.message);
    const counted = countOpenAIChat(parsed, o200k);
    expect(counted.trainable).toBe(tiktoken.encode('Paris, as if you did not know.').length + 1);
    const all = countOpenAIChat({ messages: parsed.messages.map((m) => ({ ...m, weight: 1 })) }, o200k);
    expect(all.tokens).toBe(counted.tokens);
    expect(all.trainable).toBe(counted.trainable + tiktoken.encode('Paris').length + 1);
  });
});
