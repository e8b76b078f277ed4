"""``faithline export inspect RUN --out FILE.eval``: a faithline run as an Inspect AI log.

    faithline export inspect runs/cf --out cf.eval
    inspect view --log-dir .          # opens cf.eval in Inspect's viewer
    python -c "from inspect_ai.log import read_eval_log as r; print(len(r('cf.eval').samples))"

One sample per transcript (id = the transcript's id, epoch 1, target = gold):

- messages: the prompt as the user's message, then the CoT as a ``ContentReasoning`` block and
  the answer as text. A Shoggoth/Face transcript has three turns instead: the Shoggoth's CoT
  (reasoning), the paraphrase the Face read (``Paraphrased CoT (what the Face read): ...``) and
  the Face's answer, each with its model and ``metadata.faithline_role``;
- scores: each monitor verdict as score ``NAME`` (value = the verdict's score, 1.0 for a failed
  verdict, which fails closed; explanation = its reason; metadata = flag, failed, error), and
  ``correct`` (C/I) when the transcript has it; the results hold each score's mean and each
  monitor's flag rate;
- metadata: ``labels``, ``paraphrased_cot``, the transcript's ``meta``, and the whole transcript
  under ``faithline``, so ``load_transcripts`` reads the file back exactly.

The log's ``metadata.faithline`` holds the run's run.json (schema, command, config, versions).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faithline.config import help_meta as _help
from faithline.errors import BadInputError
from faithline.inspect.read import EMBED_KEY, require_inspect
from faithline.io import check_output
from faithline.monitors.base import Verdict
from faithline.runs import Run
from faithline.types import Transcript

FORMATS = ("inspect",)


@dataclass(frozen=True)
class ExportConfig:
    """Settings of ``faithline export``."""

    format: str = field(metadata=_help("what to write: inspect (an Inspect AI log)"))
    run: str = field(metadata=_help("run directory to export"))
    out: str = field(metadata=_help("output file: FILE.eval or FILE.json (Inspect's formats)"))

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise BadInputError(f"unknown export format '{self.format}'; known: "
                                f"{', '.join(FORMATS)}")
        if Path(self.out).suffix not in (".eval", ".json"):
            raise BadInputError(f"--out '{self.out}': an Inspect log ends in .eval or .json")


def _models(t: Transcript) -> dict[str, str]:
    models = t.meta.get("models")
    return {str(k): str(v) for k, v in models.items()} if isinstance(models, dict) else {}


def _messages(t: Transcript) -> list[Any]:
    from inspect_ai.model import (
        ChatMessageAssistant,
        ChatMessageUser,
        Content,
        ContentReasoning,
        ContentText,
    )

    models = _models(t)
    cot: list[Content] = [ContentReasoning(reasoning=t.cot)] if t.cot else []
    user = ChatMessageUser(content=t.prompt)
    if "face" not in models and t.paraphrased_cot is None:
        return [user, ChatMessageAssistant(content=[*cot, ContentText(text=t.answer)],
                                           model=models.get("model"))]
    turns = [user, ChatMessageAssistant(content=cot or "", model=models.get("shoggoth"),
                                        metadata={"faithline_role": "shoggoth"})]
    if t.paraphrased_cot is not None:
        turns.append(ChatMessageAssistant(
            content=f"Paraphrased CoT (what the Face read):\n{t.paraphrased_cot}",
            model=models.get("paraphraser"), metadata={"faithline_role": "paraphraser"}))
    turns.append(ChatMessageAssistant(content=t.answer, model=models.get("face"),
                                      metadata={"faithline_role": "face"}))
    return turns


def _scores(t: Transcript) -> dict[str, Any]:
    from inspect_ai.scorer import CORRECT, INCORRECT, Score

    scores: dict[str, Any] = {}
    for name, raw in (t.monitor or {}).items():
        v = Verdict.from_dict(raw, where=f"monitor {name}")
        meta: dict[str, Any] = {"flag": v.flag}
        if v.failed:
            meta.update(failed=True, error=v.error)
        scores[name] = Score(value=1.0 if v.score is None else v.score, answer=t.answer,
                             explanation=v.reason, metadata=meta)
    if t.correct is not None:
        scores["correct"] = Score(value=CORRECT if t.correct else INCORRECT, answer=t.answer,
                                  explanation=f"gold: {t.gold}")
    return scores


def sample_of(t: Transcript, model: str) -> Any:
    """The Inspect ``EvalSample`` of one transcript."""
    from inspect_ai.log import EvalSample
    from inspect_ai.model import ModelOutput

    meta = {"labels": t.label or {}, "paraphrased_cot": t.paraphrased_cot,
            "meta": t.meta, EMBED_KEY: t.to_dict()}
    return EvalSample(id=t.id, epoch=1, input=t.prompt, target=t.gold or "",
                      messages=_messages(t), output=ModelOutput.from_content(model, t.answer),
                      scores=_scores(t) or None, metadata=json.loads(json.dumps(meta,
                                                                                default=str)))


def _results(samples: Sequence[Any]) -> Any:
    from inspect_ai.log import EvalMetric, EvalResults, EvalScore

    names = list(dict.fromkeys(n for s in samples for n in (s.scores or {})))
    scores = []
    for name in names:
        got = [s.scores[name] for s in samples if s.scores and name in s.scores]
        if name == "correct":
            metrics = {"accuracy": sum(g.value == "C" for g in got) / len(got)}
        else:
            metrics = {"mean": sum(float(g.value) for g in got) / len(got),
                       "flag_rate": sum(bool((g.metadata or {}).get("flag")) for g in got)
                       / len(got)}
        scores.append(EvalScore(name=name, scorer=name, scored_samples=len(got),
                                metrics={k: EvalMetric(name=k, value=v)
                                         for k, v in metrics.items()}))
    return EvalResults(total_samples=len(samples), completed_samples=len(samples),
                       scores=scores)


def run_log(run: Run, transcripts: Sequence[Transcript]) -> Any:
    """The ``EvalLog`` of ``run``'s transcripts."""
    from inspect_ai.log import EvalConfig, EvalDataset, EvalLog, EvalSpec

    first = _models(transcripts[0]) if transcripts else {}
    spec = first.get("model") or first.get("face") or first.get("shoggoth") or "unknown"
    model = spec if "/" in spec and ":" not in spec else f"faithline/{spec}"
    samples = [sample_of(t, model) for t in transcripts]
    created = str(run.info.get("created") or dt.datetime.now(dt.timezone.utc).isoformat())
    eval_spec = EvalSpec(
        created=created, task=str(run.info.get("name") or run.path.name),
        dataset=EvalDataset(name=run.path.name, location=str(run.transcripts_path),
                            samples=len(samples), sample_ids=[t.id for t in transcripts]),
        model=model, config=EvalConfig(), solver=f"faithline {run.info.get('command', '')}",
        metadata={"faithline_models": first})
    return EvalLog(status="success", eval=eval_spec, results=_results(samples),
                   samples=samples,
                   metadata={"faithline": json.loads(json.dumps(run.info, default=str))})


def export_run(run_dir: str | Path, out: str | Path) -> Path:
    """Write the run at ``run_dir`` as an Inspect log at ``out``; returns ``out``."""
    check_output(out, "file")
    require_inspect("faithline export inspect")
    from inspect_ai.log import write_eval_log

    run = Run.load(run_dir)
    if not run.transcripts_path.is_file():
        parts = run.info.get("parts")
        hint = (f"; export one of its parts: {', '.join(f'{run.path}/{p}' for p in parts)}"
                if isinstance(parts, list) and parts else "")
        raise BadInputError(f"{run.path}: run has no transcripts.jsonl{hint}")
    transcripts = run.transcripts()
    if not transcripts:
        raise BadInputError(f"{run.path}: run has no transcripts yet")
    out_path = Path(out)
    if not out_path.parent.is_dir():
        raise BadInputError(f"--out '{out}': directory '{out_path.parent}' does not exist")
    write_eval_log(run_log(run, transcripts), str(out_path))
    return out_path
