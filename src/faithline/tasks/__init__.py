"""Tasks with seeds and exact verifiers, and loaders for user data.

``get_task`` takes a task spec:
    ``coinflip``, ``addition``, ``mcq-cues``      built-in generators; options as
                                                 ``name:key=value,...`` (``coinflip:flips=12``)
    ``path/to/file.jsonl``                       Task JSONL (contract)
    ``hf-dataset:<local dir or file>``           a local HF ``datasets`` dataset
    ``leak:<task spec>``                         that task with a leaked answer the grader
                                                 trusts (``leak.py``), e.g.
                                                 ``leak:coinflip:style=words`` (the organism's)
"""

from __future__ import annotations

import ast
from typing import Any

from faithline.errors import BadInputError
from faithline.registry import Registry
from faithline.tasks.base import Task

TASKS: Registry[Task] = Registry("task")
TASKS.register("coinflip", "faithline.tasks.coinflip:CoinFlipTask")
TASKS.register("addition", "faithline.tasks.addition:AdditionTask")
TASKS.register("mcq-cues", "faithline.tasks.mcq_cues:McqCuesTask")


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
    if spec.startswith("leak:"):
        from faithline.tasks.leak import LeakTask

        return LeakTask(get_task(spec.removeprefix("leak:")))
    if spec.startswith("hf-dataset:"):
        from faithline.tasks.loaders import HFDatasetTask

        return HFDatasetTask(spec.removeprefix("hf-dataset:"))
    name, _, opts = spec.partition(":")
    cls = TASKS.get(name)
    try:
        return cls(**_parse_options(opts, spec))
    except TypeError as e:
        raise BadInputError(f"task spec '{spec}': {e}") from None


__all__ = ["TASKS", "Task", "get_task"]
