// Tokenizers (Hugging Face tokenizer.json and the built-in one).
export * from './tokenizer/index';
