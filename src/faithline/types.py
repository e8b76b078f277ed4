"""Data types shared by every part of faithline: defined once, depended on by all.

``Sample`` is one task item (the Task JSONL contract), ``Prompt`` is what a model is asked
(chat messages plus an optional assistant prefill), ``Generation`` is one model output and
``Transcript`` is one row of the Transcript JSONL contract.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from faithline.errors import BadInputError

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Prompt:
    """Chat messages, and text the assistant's turn is forced to start with (``prefill``)."""

    messages: tuple[Message, ...]
    prefill: str = ""

    @classmethod
    def user(cls, text: str, prefill: str = "", system: str | None = None) -> Prompt:
        msgs = (Message("system", system),) if system else ()
        return cls(messages=(*msgs, Message("user", text)), prefill=prefill)

    def with_prefill(self, prefill: str) -> Prompt:
        return Prompt(messages=self.messages, prefill=prefill)

    def to_dict(self) -> dict[str, Any]:
        return {"messages": [m.to_dict() for m in self.messages], "prefill": self.prefill}


@dataclass(frozen=True)
class GenParams:
    """Sampling settings for one ``Model.generate`` call."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: bool = False

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise BadInputError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise BadInputError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise BadInputError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.n < 1:
            raise BadInputError(f"n must be >= 1, got {self.n}")


FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class Generation:
    """One sampled continuation. ``tokens``/``logprobs`` are set when logprobs were asked for."""

    text: str
    finish_reason: FinishReason = "stop"
    tokens: tuple[str, ...] | None = None
    logprobs: tuple[float, ...] | None = None
    # Local back-ends: the ids sampled, through the token that ended the generation (EOS or the
    # one completing a stop string), as an RL trainer needs them.
    token_ids: tuple[int, ...] | None = None
    # What ended it, where the back-end knows: the stop string matched, or "eos" (None: the
    # token limit, or a back-end that does not say). The per-step loop (pipeline/steps.py)
    # tells a step's end from the CoT's end by it.
    stop_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "text": self.text,
            "finish_reason": self.finish_reason,
            "tokens": list(self.tokens) if self.tokens is not None else None,
            "logprobs": list(self.logprobs) if self.logprobs is not None else None,
            "token_ids": list(self.token_ids) if self.token_ids is not None else None,
        }
        if self.stop_reason is not None:
            d["stop_reason"] = self.stop_reason
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Generation:
        toks, lps, ids = d.get("tokens"), d.get("logprobs"), d.get("token_ids")
        return cls(
            text=d["text"],
            finish_reason=d.get("finish_reason", "stop"),
            tokens=tuple(toks) if toks is not None else None,
            logprobs=tuple(lps) if lps is not None else None,
            token_ids=tuple(ids) if ids is not None else None,
            stop_reason=d.get("stop_reason"),
        )


@dataclass(frozen=True)
class Sample:
    """One task item (Task JSONL contract): ``id``, ``question``, gold ``answer``.

    With ``choices`` the answer is a letter (A, B, ...). ``meta`` carries task details
    (e.g. the coin states, or the cue injected into a multiple-choice question).
    """

    id: str
    question: str
    answer: str
    choices: tuple[str, ...] | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "question": self.question, "answer": self.answer}
        if self.choices is not None:
            d["choices"] = list(self.choices)
        if self.meta:
            d["meta"] = dict(self.meta)
        return d


TRANSCRIPT_REQUIRED = ("id", "prompt", "cot", "answer")
_OPTIONAL_TYPES: dict[str, tuple[type, ...]] = {
    "paraphrased_cot": (str,), "gold": (str,), "correct": (bool,), "label": (dict,),
    "meta": (dict,), "monitor": (dict,),
}


def _check_types(d: Mapping[str, Any], where: str) -> None:
    """Optional contract keys are null or of their type; label values are booleans and
    monitor verdicts are objects."""
    for key, types in _OPTIONAL_TYPES.items():
        value = d.get(key)
        if value is not None and not isinstance(value, types):
            raise BadInputError(f"{where}: '{key}' must be {types[0].__name__} or null, "
                                f"got {type(value).__name__}")
    for name, flag in (d.get("label") or {}).items():
        if not isinstance(flag, bool):
            raise BadInputError(f"{where}: label '{name}' must be true or false")
    for name, verdict in (d.get("monitor") or {}).items():
        if not isinstance(verdict, dict):
            raise BadInputError(f"{where}: monitor '{name}' must be an object")


@dataclass
class Transcript:
    """One row of the Transcript JSONL contract. Unknown keys live in ``extra`` and survive."""

    id: str
    prompt: str
    cot: str
    answer: str
    paraphrased_cot: str | None = None
    gold: str | None = None
    correct: bool | None = None
    label: dict[str, bool] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    monitor: dict[str, dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = dict(self.extra)
        d.update(id=self.id, prompt=self.prompt, cot=self.cot, answer=self.answer)
        for key in ("paraphrased_cot", "gold", "correct", "label", "monitor"):
            value = getattr(self, key)
            if value is not None:
                d[key] = value
        if self.meta:
            d["meta"] = self.meta
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "transcript") -> Transcript:
        if not isinstance(d, Mapping):
            raise BadInputError(f"{where}: expected a JSON object, got {type(d).__name__}")
        missing = [k for k in TRANSCRIPT_REQUIRED if k not in d]
        if missing:
            raise BadInputError(f"{where}: missing required key(s) {', '.join(missing)}")
        for k in TRANSCRIPT_REQUIRED:
            if not isinstance(d[k], str):
                raise BadInputError(f"{where}: '{k}' must be a string")
        _check_types(d, where)
        known = {*TRANSCRIPT_REQUIRED, "paraphrased_cot", "gold", "correct", "label", "meta",
                 "monitor"}
        return cls(
            id=d["id"],
            prompt=d["prompt"],
            cot=d["cot"],
            answer=d["answer"],
            paraphrased_cot=d.get("paraphrased_cot"),
            gold=d.get("gold"),
            correct=d.get("correct"),
            label=d.get("label"),
            meta=dict(d.get("meta") or {}),
            monitor=d.get("monitor"),
            extra={k: v for k, v in d.items() if k not in known},
        )
