"""Text to token ids: the preprocessing spec, tokenizer, vocabulary, TextEncoder and the native encoder binding (numpy only, no torch)."""
