"""Word-distribution shift: the Jensen-Shannon divergence of a set of CoTs' words from a
reference set's (e.g. the start policy's). A cheap legibility proxy for a training curve: 0 when
the policy writes the words it started with, up to 1 bit when it shares none of them.

    >>> round(js_divergence(word_distribution(["a b"]), word_distribution(["a b"])), 3)
    0.0
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence


def word_distribution(texts: Sequence[str]) -> dict[str, float]:
    """Share of each whitespace-separated word over all ``texts``."""
    counts = Counter(w for t in texts for w in t.split())
    total = sum(counts.values()) or 1
    return {w: c / total for w, c in counts.items()}


def js_divergence(p: dict[str, float], q: dict[str, float]) -> float:
    """Jensen-Shannon divergence (bits) of two word distributions."""
    def kl(a: dict[str, float], m: dict[str, float]) -> float:
        return sum(v * math.log2(v / m[w]) for w, v in a.items() if v > 0)

    m = {w: 0.5 * (p.get(w, 0.0) + q.get(w, 0.0)) for w in set(p) | set(q)}
    return 0.5 * kl(p, m) + 0.5 * kl(q, m)
