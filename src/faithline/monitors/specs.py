"""Monitor specs: ``get_monitor("rule:leak")`` builds the monitor a string names.

    rule:PRESET | rule:keywords=a,b | regex:PATTERN     rules.py (presets: leak, hack, cue)
    judge:MODEL_SPEC[@kind=hack|cue|deception,view=cot|answer,mode=auto|score|generate]
                                                        llm_judge.py
    classifier:DIR                                      classifier.py (faithline monitor-train)
    ensemble:any|mean|vote:A|B|...                      ensemble.py
    paraphrased:PARAPHRASER_SPEC>MONITOR_SPEC            paraphrased.py (or paraphrased:stored>M)
    stored:NAME                                          stored.py (verdicts already in the file)
    probe:DIR[@N] | features:FILE[@N]                    activation monitors (faithline.interp)
    consistency:TASK | chain:TASK                        consistency.py (the CoT checked against
                                                         the task: its conclusion, its steps)

Options go after the last ``@`` as comma-separated ``key=value``: ``view`` (rules, judges),
``kind``, ``mode``, ``batch`` (judges), ``threshold`` (all but ensembles of kind ``any``),
``score=binary|share`` (rules: 1/0 on a match, or the share of the CoT's words that match, a
graded pressure such as ``rule:keywords=H,T@score=share``; flag when score >= threshold either
way) and ``case=insensitive|sensitive`` (``rule:keywords`` only; ``regex:`` is case-sensitive
unless ``(?i)``, so ``regex:\b[HT]\b@score=share`` counts only capital H and T).
Ensemble members are separated by ``|`` outside brackets, so a regex member keeps its
alternations inside ``(...)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, MutableMapping

from faithline.errors import BadInputError
from faithline.models import Model, load_model
from faithline.monitors.base import Monitor

KINDS = ("rule", "regex", "judge", "classifier", "ensemble", "paraphrased", "stored", "probe",
         "features", "consistency", "chain")
_OPTION = re.compile(r"^\w+=[^,=@]*(?:,\w+=[^,=@]*)*$")
Loader = Callable[[str], Model]


def split_options(rest: str, known: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """``"x@view=cot,kind=hack"`` -> ``("x", {"view": "cot", "kind": "hack"})``; the tail after
    the last ``@`` counts as options only if it is ``key=value`` pairs with known keys."""
    head, at, tail = rest.rpartition("@")
    if not at or not _OPTION.match(tail):
        return rest, {}
    opts = dict(pair.split("=", 1) for pair in tail.split(","))
    unknown = sorted(set(opts) - set(known))
    if unknown:
        raise BadInputError(f"unknown monitor option(s) {', '.join(unknown)}; known here: "
                            f"{', '.join(known)}")
    return head, opts


def split_members(text: str) -> list[str]:
    """Split on ``|`` outside (), [] and {}."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        elif ch == "|" and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _float(opts: dict[str, str], key: str, default: float) -> float:
    if key not in opts:
        return default
    try:
        return float(opts[key])
    except ValueError:
        raise BadInputError(f"monitor option {key}={opts[key]!r} is not a number") from None


def _model(spec: str, pool: MutableMapping[str, Model], load: Loader) -> Model:
    if not spec:
        raise BadInputError("monitor spec 'judge:' needs a model spec, e.g. "
                            "judge:builtin:smollm2-135m")
    if spec not in pool:
        pool[spec] = load(spec)
    return pool[spec]


def get_monitor(spec: str, pool: MutableMapping[str, Model] | None = None,
                load: Loader = load_model, seed: int = 0) -> Monitor:
    """The monitor ``spec`` names (see the module docstring). Models are loaded with ``load``
    and shared through ``pool`` (spec -> model), so two judges on one model load it once."""
    pool = {} if pool is None else pool
    spec = spec.strip()
    kind, _, rest = spec.partition(":")
    if kind in ("rule", "regex"):
        from faithline.monitors.rules import rule_monitor

        body, opts = split_options(rest, ("view", "threshold", "score", "case"))
        rule = rule_monitor(kind, body, opts.get("view", "cot"), opts.get("score", "binary"),
                            opts.get("case"))
        rule.threshold = _float(opts, "threshold", rule.threshold)
        return rule
    if kind == "judge":
        from faithline.monitors.llm_judge import JudgeMonitor

        body, opts = split_options(rest, ("kind", "view", "mode", "threshold", "batch"))
        return JudgeMonitor(_model(body, pool, load), kind=opts.get("kind", "hack"),
                            view=opts.get("view", "cot"), mode=opts.get("mode", "auto"),
                            threshold=_float(opts, "threshold", 0.5),
                            batch_size=int(_float(opts, "batch", 8)), seed=seed)
    if kind == "classifier":
        from faithline.monitors.classifier import load_classifier

        body, opts = split_options(rest, ("threshold",))
        if not body:
            raise BadInputError("monitor spec 'classifier:' needs a directory")
        t = _float(opts, "threshold", -1.0)
        return load_classifier(body, pool, threshold=None if t < 0 else t)
    if kind == "ensemble":
        from faithline.monitors.ensemble import EnsembleMonitor

        mode, _, members = rest.partition(":")
        return EnsembleMonitor(mode, [get_monitor(s, pool, load, seed)
                                      for s in split_members(members)])
    if kind == "paraphrased":
        return _paraphrased(spec, rest, pool, load, seed)
    if kind in ("consistency", "chain"):
        from faithline.monitors.consistency import TaskCheckMonitor

        body, opts = split_options(rest, ("threshold",))
        return TaskCheckMonitor(kind, body, threshold=_float(opts, "threshold", 0.5))
    if kind == "stored":
        from faithline.monitors.stored import StoredMonitor

        return StoredMonitor(rest)
    if kind in ("probe", "features"):  # read activations: the model comes from the probe's store
        from faithline.interp.monitor import load_activation_monitor

        return load_activation_monitor(spec)
    raise BadInputError(f"unknown monitor kind '{kind}' in '{spec}'; known: {', '.join(KINDS)}")


def _paraphrased(spec: str, rest: str, pool: MutableMapping[str, Model], load: Loader,
                 seed: int) -> Monitor:
    from faithline.monitors.paraphrased import ParaphrasedMonitor
    from faithline.pipeline.paraphrase_specs import get_paraphraser, paraphraser_model_specs

    para_spec, arrow, inner_spec = rest.partition(">")
    if not arrow or not para_spec or not inner_spec:
        raise BadInputError(f"monitor spec '{spec}' must look like "
                            "paraphrased:PARAPHRASER>MONITOR")
    inner = get_monitor(inner_spec, pool, load, seed)
    if para_spec == "stored":
        return ParaphrasedMonitor(None, inner)
    for s in paraphraser_model_specs(para_spec):
        _model(s, pool, load)
    return ParaphrasedMonitor(get_paraphraser(para_spec, pool, seed=seed), inner)

