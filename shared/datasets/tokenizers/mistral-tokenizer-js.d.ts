declare module 'mistral-tokenizer-js' {
  const mistralTokenizer: {
    encode(prompt: string, addBos?: boolean, addPrecedingSpace?: boolean): number[];
  };
  export default mistralTokenizer;
}
