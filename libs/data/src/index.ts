// Tokenizers (Hugging Face tokenizer.json and the built-in one).
export * from './tokenizer/index';
// Row formats, tokenisation, loss masks and truncation.
export * from './formats/index';
// Sources (JSONL, Parquet, Arrow IPC, in-memory), shuffling, epochs, cursor, sharding, batching.
export * from './sources/index';
// Padding and sequence packing into plain typed arrays.
export * from './collate/index';
// Built-in tasks (arithmetic).
export * from './tasks/index';
