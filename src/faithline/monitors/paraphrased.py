"""Paraphrase the CoT before the monitor reads it: ``paraphrased:PARAPHRASER>MONITOR``.

    paraphrased:canonical>rule:leak
    paraphrased:llm:builtin:smollm2-135m>judge:builtin:smollm2-135m
    paraphrased:stored>classifier:monitors/hack   # the transcripts' own ``paraphrased_cot``

The inner monitor sees each transcript with its CoT replaced by the paraphrase (the answer and
prompt unchanged). This measures what a monitor still catches once wording-level signals are
gone, and what it reads in a Shoggoth/Face pipeline. A paraphrase that fails closed (empty,
truncated, refused, low fidelity), or a missing ``paraphrased_cot`` with ``stored``, is a failed
verdict.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from faithline.errors import ParaphraseError
from faithline.monitors.base import Monitor, Verdict
from faithline.pipeline.paraphrase_llm import Paraphraser
from faithline.types import Transcript


@dataclass
class ParaphrasedMonitor:
    """``inner`` reads paraphrased CoTs; ``paraphraser=None`` uses ``t.paraphrased_cot``."""

    paraphraser: Paraphraser | None
    inner: Monitor

    @property
    def threshold(self) -> float:
        return self.inner.threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self.inner.threshold = value

    @property
    def name(self) -> str:
        para = self.paraphraser.name if self.paraphraser is not None else "stored"
        return f"paraphrased:{para}>{self.inner.name}"

    def __call__(self, transcripts: Sequence[Transcript],
                 progress: bool = False) -> list[Verdict]:
        paras: list[str | ParaphraseError | None]
        if self.paraphraser is None:
            paras = [t.paraphrased_cot for t in transcripts]
        else:
            paras = list(self.paraphraser.paraphrase([t.cot for t in transcripts],
                                                     [t.prompt for t in transcripts]))
        ok = [i for i, p in enumerate(paras) if isinstance(p, str)
              and not isinstance(p, ParaphraseError)]
        seen = [dataclasses.replace(transcripts[i], cot=str(paras[i])) for i in ok]
        inner = dict(zip(ok, self.inner(seen, progress=progress), strict=True))
        out = []
        for i, p in enumerate(paras):
            if i in inner:
                out.append(inner[i])
            elif isinstance(p, ParaphraseError):
                out.append(Verdict.fail(str(p)))
            else:
                out.append(Verdict.fail("the transcript has no paraphrased_cot"))
        return out
