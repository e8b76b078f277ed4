"""Inspect AI logs (``.eval``, ``.json``) read as contract transcripts, with inspect_ai's own
``read_eval_log``. ``faithline.io.load_transcripts`` calls ``load`` for any file ``sniff`` claims,
so every command that reads transcripts reads Inspect logs too.

The mapping (one transcript per sample and epoch):

- ``id``: the sample id; ``ID#EPOCH`` when the log ran more than one epoch.
- ``prompt``: the messages the model saw before its first turn (a lone user message as its
  text; several as ``role: text`` blocks).
- ``cot``: every assistant turn in order: its ``ContentReasoning`` blocks, ``<think>...</think>``
  in its text, and for every turn but the last its text and its tool calls
  (``[tool call] name({args})``); ``[turn K]`` heads each turn when there are several. A model
  without either that ends its text with an ``ANSWER: X`` line has the text before it as CoT.
- ``answer``: the last assistant turn's text, reasoning removed (``X`` for an answer line).
- ``gold``: the target (several targets joined by `` | ``).
- ``correct`` and ``label``: every score whose value is C/I (Inspect's CORRECT/INCORRECT) or a
  boolean becomes ``label[NAME]`` (``label[NAME.KEY]`` inside a dict-valued score), and the
  first of them ``correct``. ``--label-from score:NAME[=VALUE]`` (``label_from``) sets
  ``label[KEY]`` (KEY = the command's ``--labels``, else NAME) to whether score NAME is true
  (C, true, 1, yes) or, with ``=VALUE``, equals VALUE.
- ``meta.inspect``: task, model, log, sample id, epoch, target, scores, sample metadata, error.
- ``meta.monitorable``: false, with ``meta.monitorable_reason``, when a reasoning block is
  redacted or empty, or the sample has no reasoning at all. Monitors fail closed on such a
  transcript (``monitors.base.apply_monitors``): its CoT is never an empty text that passes.

A log that ``faithline export inspect`` wrote carries each transcript in its sample metadata
(``faithline``) and reads back exactly, with ``label_from`` still applied.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faithline.errors import BadInputError, MissingDependencyError
from faithline.types import Transcript

if TYPE_CHECKING:
    from inspect_ai.log import EvalLog, EvalSample
    from inspect_ai.model import ChatMessage

# EvalLog schema versions this reader knows (inspect_ai writes 2; 1 is read by inspect_ai itself).
KNOWN_VERSIONS = (1, 2)
EMBED_KEY = "faithline"  # sample metadata key of an exported transcript (export.py)
ZIP_MAGIC = b"PK\x03\x04"
_THINK = re.compile(r"<think>(.*?)(?:</think>|\Z)", re.DOTALL)
_ANSWER_LINE = re.compile(r"^\s*answer\s*:\s*(.+?)\s*$", re.IGNORECASE)
TRUE_VALUES = ("c", "true", "yes", "1", "1.0")  # compared lower-cased; C is Inspect's CORRECT
FALSE_VALUES = ("i", "false", "no", "0", "0.0")


def require_inspect(purpose: str) -> None:
    try:
        import inspect_ai  # noqa: F401
    except ImportError:
        raise MissingDependencyError("inspect_ai", "inspect", purpose) from None


def sniff(path: Path) -> bool:
    """Whether ``path`` is meant as an Inspect log: a ``.eval`` file or a zip, or a ``.json``
    file that is one JSON document rather than JSON lines. Reads a few bytes, imports nothing."""
    if path.suffix == ".eval":
        return True
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    if head.startswith(ZIP_MAGIC):
        return True
    if path.suffix != ".json":
        return False
    first = head.split(b"\n", 1)[0].strip()
    try:
        json.loads(first)
        return b'"eval"' in head and b'"version"' in head  # a one-line Inspect log
    except ValueError:
        return True  # a document spread over lines: JSON, not JSONL


def read_log(path: str | Path) -> EvalLog:
    """The log at ``path`` through ``read_eval_log``; anything it cannot read is one line."""
    require_inspect("reading Inspect AI logs")
    from importlib.metadata import version

    from inspect_ai.log import read_eval_log

    try:
        log = read_eval_log(str(path))
    except Exception as e:  # inspect_ai raises many kinds: zip, JSON, pydantic, version
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise BadInputError(f"{path}: not an Inspect AI log that inspect_ai "
                            f"{version('inspect_ai')} can read ({reason})") from None
    if log.version not in KNOWN_VERSIONS:
        raise BadInputError(f"{path}: Inspect log version {log.version}; faithline reads "
                            f"versions {', '.join(map(str, KNOWN_VERSIONS))}")
    return log


def reader_for(path: Path) -> Callable[[Path, str | None, str | None], list[Transcript]] | None:
    """``load`` if ``path`` is an Inspect log, else None (a reader of ``faithline.io``)."""
    return load if sniff(path) else None


def load(path: str | Path, label_from: str | None = None,
         label_key: str | None = None) -> list[Transcript]:
    """One transcript per sample of the Inspect log at ``path`` (the module's mapping)."""
    log = read_log(path)
    if log.samples is None:
        raise BadInputError(f"{path}: Inspect log holds no samples (a header-only log)")
    several = any(s.epoch > 1 for s in log.samples)
    rule = parse_label_from(label_from, label_key) if label_from else None
    order = {sid: i for i, sid in enumerate(log.eval.dataset.sample_ids or [])}
    out = []  # in dataset order (a .eval file lists its samples by name)
    for s in sorted(log.samples, key=lambda s: (order.get(s.id, len(order)), s.epoch)):
        t = sample_transcript(s, log, str(path), several)
        if rule is not None:
            key, value = rule[0], label_value(s.scores or {}, rule[1], rule[2], f"{path}: "
                                              f"sample {t.id}")
            t.label = {**(t.label or {}), key: value}
        out.append(t)
    return out


# ----- labels ----------------------------------------------------------------------------------
def parse_label_from(spec: str, label_key: str | None) -> tuple[str, str, str | None]:
    """``score:NAME[=VALUE]`` -> (label key, NAME, VALUE or None)."""
    kind, _, rest = spec.partition(":")
    name, eq, value = rest.partition("=")
    if kind != "score" or not name:
        raise BadInputError(f"--label-from '{spec}': expected score:NAME or score:NAME=VALUE")
    return label_key or name, name, value if eq else None


def _score_value(scores: dict[str, Any], name: str) -> Any:
    """The value of score ``name``, or of key K of dict-valued score S for ``S.K``."""
    if name in scores:
        return scores[name].value
    head, _, key = name.rpartition(".")
    if head in scores and isinstance(scores[head].value, dict) and key in scores[head].value:
        return scores[head].value[key]
    raise KeyError(name)


def _truth(value: Any) -> bool | None:
    text = str(value).strip().lower()
    if text in TRUE_VALUES:
        return True
    return False if text in FALSE_VALUES else None


def label_value(scores: dict[str, Any], name: str, expected: str | None, where: str) -> bool:
    try:
        value = _score_value(scores, name)
    except KeyError:
        have = ", ".join(sorted(scores)) or "none"
        raise BadInputError(f"{where}: no score '{name}' for --label-from (scores: {have})"
                            ) from None
    if expected is not None:
        try:
            return float(value) == float(expected)
        except (TypeError, ValueError):
            return str(value) == expected
    truth = _truth(value)
    if truth is None:
        raise BadInputError(f"{where}: score '{name}' is {value!r}, neither true nor false; "
                            f"give --label-from score:{name}=VALUE")
    return truth


def default_labels(scores: dict[str, Any]) -> dict[str, bool]:
    """``label[NAME]`` for every C/I or boolean score (``NAME.KEY`` inside dict values)."""
    labels: dict[str, bool] = {}
    for name, score in scores.items():
        items = score.value.items() if isinstance(score.value, dict) else [(None, score.value)]
        for key, value in items:
            if isinstance(value, bool) or value in ("C", "I"):
                labels[f"{name}.{key}" if key is not None else name] = value in (True, "C")
    return labels


# ----- messages --------------------------------------------------------------------------------
def _text(message: ChatMessage) -> str:
    return message.text if hasattr(message, "text") else str(message.content)


def render_prompt(messages: Sequence[ChatMessage]) -> str:
    if len(messages) == 1 and messages[0].role == "user":
        return _text(messages[0])
    return "\n\n".join(f"{m.role}: {_text(m)}" for m in messages)


def _tool_call(call: Any) -> str:
    return f"[tool call] {call.function}({json.dumps(call.arguments, ensure_ascii=False)})"


def split_turn(message: Any) -> tuple[list[str], str, int, int]:
    """(reasoning parts, visible text, hidden blocks, reasoning blocks) of an assistant turn."""
    parts: list[str] = []
    texts: list[str] = []
    hidden = blocks = 0
    content = message.content if isinstance(message.content, list) else [message.content]
    for item in content:
        if isinstance(item, str) or getattr(item, "type", None) == "text":
            text = item if isinstance(item, str) else item.text
            inline = _THINK.findall(text)
            blocks += len(inline)
            parts.extend(x.strip() for x in inline if x.strip())
            hidden += sum(1 for x in inline if not x.strip())
            texts.append(_THINK.sub("", text).strip())
        elif getattr(item, "type", None) == "reasoning":
            blocks += 1
            if item.redacted or not item.reasoning.strip():
                hidden += 1
            else:
                parts.append(item.reasoning.strip())
    return parts, "\n".join(t for t in texts if t), hidden, blocks


def trajectory(prompt_len: int, messages: Sequence[Any]) -> tuple[str, str, dict[str, Any]]:
    """(cot, answer, facts) of the assistant turns after the prompt."""
    turns = [m for m in messages[prompt_len:] if m.role == "assistant"]
    blocks_text: list[str] = []
    answer, hidden, blocks, calls, source = "", 0, 0, 0, "reasoning"
    for k, m in enumerate(turns):
        parts, text, h, b = split_turn(m)
        hidden, blocks = hidden + h, blocks + b
        last = k == len(turns) - 1
        if last:
            answer = text
        elif text:
            parts.append(text)
        for call in m.tool_calls or []:
            parts.append(_tool_call(call))
            calls += 1
        if parts:
            head = f"[turn {k + 1}]\n" if len(turns) > 1 else ""
            blocks_text.append(head + "\n\n".join(parts))
    cot = "\n\n".join(blocks_text)
    if not cot and blocks == 0 and answer:
        lines = answer.rstrip().splitlines()
        match = _ANSWER_LINE.match(lines[-1]) if lines else None
        before = "\n".join(lines[:-1]).strip()
        if match and before:
            cot, answer, source = before, match.group(1), "text before the answer line"
    if not cot and not blocks and source == "reasoning":
        source = "none"
    facts = {"turns": len(turns), "tool_calls": calls, "reasoning_blocks": blocks,
             "hidden_reasoning_blocks": hidden, "cot_source": source}
    return cot, answer, facts


def conversation(sid: str, input: str | Sequence[Any], messages: Sequence[Any],
                 output: Any, target: str | list[str]) -> Transcript:
    """The transcript of one conversation: ``input`` (a string or messages), the messages of the
    sample or TaskState, its ``ModelOutput`` and target. ``meta.inspect`` holds the facts."""
    msgs = list(messages)
    first = next((i for i, m in enumerate(msgs) if m.role == "assistant"), None)
    if first:
        prompt_msgs = msgs[:first]
    elif isinstance(input, str):
        from inspect_ai.model import ChatMessageUser

        prompt_msgs = [ChatMessageUser(content=input)]
    else:
        prompt_msgs = list(input)
    if first is None:  # no assistant turn recorded: the output is the one turn
        msgs = [*prompt_msgs, *([output.message] if output and output.choices else [])]
    cot, answer, facts = trajectory(len(prompt_msgs), msgs)
    meta: dict[str, Any] = {"inspect": {"target": target, **facts}, "monitorable": True}
    if facts["hidden_reasoning_blocks"]:
        meta.update(monitorable=False, monitorable_reason=(
            f"{facts['hidden_reasoning_blocks']} of {facts['reasoning_blocks']} reasoning "
            "block(s) redacted or empty"))
    elif not cot.strip():
        meta.update(monitorable=False, monitorable_reason="no reasoning in the log")
    return Transcript(id=sid, prompt=render_prompt(prompt_msgs), cot=cot, answer=answer,
                      gold=" | ".join(target) if isinstance(target, list) else target, meta=meta)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def sample_transcript(sample: EvalSample, log: EvalLog, where: str,
                      epochs: bool) -> Transcript:
    """The contract transcript of one sample (the module's mapping)."""
    sid = f"{sample.id}#{sample.epoch}" if epochs else str(sample.id)
    embedded = (sample.metadata or {}).get(EMBED_KEY)
    if isinstance(embedded, dict) and "cot" in embedded:
        return Transcript.from_dict(embedded, where=f"{where}: sample {sid}")
    t = conversation(sid, sample.input, sample.messages, sample.output, sample.target)
    scores = sample.scores or {}
    labels = default_labels(scores)
    t.meta["inspect"] = {
        "log": where, "task": log.eval.task, "model": log.eval.model,
        "sample_id": sample.id, "epoch": sample.epoch, **t.meta["inspect"],
        "scores": {n: _jsonable({"value": s.value, "answer": s.answer,
                                 "explanation": s.explanation}) for n, s in scores.items()},
        "metadata": _jsonable(sample.metadata or {}),
    }
    if sample.error is not None:
        t.meta["inspect"]["error"] = sample.error.message
    t.correct = next(iter(labels.values())) if labels else None
    t.label = labels or None
    return t
