"""Tasks with seeds and exact verifiers, and loaders for user data.

``get_task`` takes a task spec: ``path/to/file.jsonl`` (Task JSONL, the contract), or
``KIND[:REST]`` for an entry of ``TASKS`` (``faithline generate --help`` lists them): the
built-in generators ``coinflip``, ``addition``, ``mcq-cues`` with options as
``name:key=value,...`` (``coinflip:flips=12``), ``hf-dataset:<local dir or file>`` (a local HF
``datasets`` dataset), and ``leak:<task spec>``, that task with a leaked answer the grader
trusts (``leak.py``), e.g. ``leak:coinflip:style=words`` (the organism's). A new kind is one
``TASKS.register(name, factory)`` call; the factory takes ``(rest, spec)``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from faithline.errors import BadInputError
from faithline.registry import Registry
from faithline.tasks.base import Task


def _parse_options(text: str, spec: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in filter(None, text.split(",")):
        key, eq, raw = item.partition("=")
        if not eq or not key.strip():
            raise BadInputError(f"task spec '{spec}': option '{item}' is not key=value")
        try:
            value: Any = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            value = raw.strip()
        options[key.strip().replace("-", "_")] = value
    return options


def get_task(spec: str) -> Task:
    """Build the task a spec names; bad specs and options raise ``BadInputError``."""
    if spec.endswith(".jsonl"):
        from faithline.tasks.loaders import JsonlTask

        return JsonlTask(spec)
    name, _, rest = spec.partition(":")
    return TASKS.get(name)(rest, spec)


def generator(path: str) -> TaskFactory:
    """A factory for a generator class at ``module:Class``, options as ``key=value,...``."""

    def build(rest: str, spec: str) -> Task:
        import importlib

        module, _, attr = path.partition(":")
        cls = getattr(importlib.import_module(module), attr)
        try:
            return cls(**_parse_options(rest, spec))
        except TypeError as e:
            raise BadInputError(f"task spec '{spec}': {e}") from None

    return build


def _leak(rest: str, spec: str) -> Task:
    from faithline.tasks.leak import LeakTask

    return LeakTask(get_task(rest))


def _hf_dataset(rest: str, spec: str) -> Task:
    from faithline.tasks.loaders import HFDatasetTask

    return HFDatasetTask(rest)


TaskFactory = Callable[[str, str], Task]
TASKS: Registry[Task] = Registry("task")
TASKS.register("coinflip", generator("faithline.tasks.coinflip:CoinFlipTask"),
               grammar="coinflip[:flips=8,style=english|words]",
               help="track a coin through N flips")
TASKS.register("shellgame", generator("faithline.tasks.shellgame:ShellGameTask"),
               grammar="shellgame[:moves=8,style=english|words]",
               help="track a ball under three cups through N swaps (a leak needs a chain)")
TASKS.register("addition", generator("faithline.tasks.addition:AdditionTask"),
               grammar="addition[:operands=4,digits=2-3]",
               help="multi-operand addition")
TASKS.register("mcq-cues", generator("faithline.tasks.mcq_cues:McqCuesTask"),
               grammar="mcq-cues[:cue=mixed,cue_correct=0.0]",
               help="multiple choice with planted cues (the cue tests)")
TASKS.register("hf-dataset", _hf_dataset, grammar="hf-dataset:DIR_OR_FILE",
               help="a local HF datasets dataset")
TASKS.register("leak", _leak, grammar="leak:TASK_SPEC",
               help="that task with a leaked answer the grader trusts (the hackable version)")


__all__ = ["TASKS", "Task", "get_task"]
