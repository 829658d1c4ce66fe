"""Probabilities in the words people read: one rule for every sentence, every front end
(static/digitlens/words.mjs `percent` and verdict.mjs `pct` say them the same way)."""

from __future__ import annotations


def format_probability(p: float, decimals: int = 1) -> str:
    """A probability as people should read it: never "100.0 %" or "0.0 %" when it is not.

    0.99996 -> "> 99.9 %", 0.00004 -> "< 0.1 %", 0.873 -> "87.3 %". A softmax is never
    exactly 1 or 0, even where float32 rounds it there.
    """
    step = 10.0 ** -(decimals + 2)  # the smallest change shown, as a probability
    if p >= 1 - step / 2:
        return f"> {100 - 100 * step:.{decimals}f} %"
    if p < step / 2:
        return f"< {100 * step:.{decimals}f} %"
    return f"{100 * p:.{decimals}f} %"
