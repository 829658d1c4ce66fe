"""The judge: whether to believe an answer (digit / unsure / not a digit)."""
