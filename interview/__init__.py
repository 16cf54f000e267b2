"""interview: the mock interview on Transformer failure modes and fine-tuning (built in a later issue)."""
