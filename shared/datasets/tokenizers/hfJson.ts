import { LLAMA3_BUNDLE } from './llama3';

interface ReferenceTokenizer {
  vocabById: string[];
  merges: Map<string, number>;
}

/**
 * A Hugging Face `tokenizer.json` for Llama 3, rebuilt from the vocabulary and merges that
 * `llama3-tokenizer-js` ships (the same structure as Meta's file: byte-level BPE with
 * `ignore_merges`, the Split regex pre-tokenizer, 256 special tokens). It lets the Rust
 * `tokenizers` binding count offline — a second, independent reference for tests and the benchmark.
 */
export function llama3TokenizerJson(): string {
  const reference = (require(LLAMA3_BUNDLE) as { llama3Tokenizer: ReferenceTokenizer }).llama3Tokenizer;
  const vocab: Record<string, number> = {};
  for (let id = 0; id < 128_000; id++) vocab[reference.vocabById[id] as string] = id;
  const merges = [...reference.merges.entries()].sort((a, b) => a[1] - b[1]).map(([pair]) => pair);
  const added_tokens = reference.vocabById.slice(128_000).map((content, i) => ({
    id: 128_000 + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: {
            Regex:
              "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
          },
          behavior: 'Isolated',
          invert: false,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: true,
      vocab,
      merges,
    },
  });
}
