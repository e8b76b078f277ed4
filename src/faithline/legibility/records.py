"""The legibility records a ``faithline legibility`` run stores, read back by set (A, B, ...)."""

from __future__ import annotations

from typing import Any

from faithline.runs import Run


def records_by_set(run: Run) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for t in run.transcripts():
        rec = t.extra.get("legibility")
        if isinstance(rec, dict):
            out.setdefault(str(rec.get("set")), []).append(rec)
    return out
