"""DigitLens' inference server: a thin HTTP layer over `model/`."""
