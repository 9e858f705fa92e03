declare module 'llama-tokenizer-js' {
  const llamaTokenizer: {
    encode(prompt: string, addBos?: boolean, addPrecedingSpace?: boolean): number[];
  };
  export default llamaTokenizer;
}
