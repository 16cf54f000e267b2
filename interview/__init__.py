"""interview: the mock interview on Transformer failure modes (built in a later issue)."""
