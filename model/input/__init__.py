"""Inputs: decoding any image, the digit recipes (ink, crop, centre), photos, samples."""
