// Tokenizers (Hugging Face tokenizer.json and the built-in one).
export * from './tokenizer/index';
// Row formats, tokenisation, loss masks and truncation.
export * from './formats/index';
