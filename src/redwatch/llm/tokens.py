"""Fresh tokens for one attempt: markers (their appearance in a reply proves the model
obeyed an injected instruction) and canaries (planted secrets whose appearance proves a
leak). Drawn from a seeded generator so a campaign is reproducible; the alphabet avoids
characters that tokenizers or markdown mangle."""

from __future__ import annotations

import numpy as np

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def make_token(rng: np.random.Generator, prefix: str = "RW", length: int = 10) -> str:
    """e.g. "RW-7KQ2M9XAPD": prefix, a dash, `length` characters from ALPHABET."""
    picks = rng.integers(0, len(ALPHABET), size=length)
    return f"{prefix}-" + "".join(ALPHABET[int(i)] for i in picks)
