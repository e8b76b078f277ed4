"""Monitor specs: ``get_monitor("rule:leak")`` builds the monitor a string names.

Every kind is an entry of ``MONITORS``, with its grammar and help (``faithline monitor --help``
lists them). Adding a kind is one factory and one registration, in the part that owns it::

    from faithline.monitors.specs import MONITORS, SpecContext, split_options

    def length_monitor(rest: str, ctx: SpecContext) -> Monitor:   # "length:200@view=cot"
        body, opts = split_options(rest, ("view",))
        return LengthMonitor(int(body), view=opts.get("view", "cot"))

    MONITORS.register("length", length_monitor, grammar="length:N[@view=cot|answer]",
                      help="flag CoTs longer than N words")

Options go after the last ``@`` as comma-separated ``key=value``: ``view`` (rules, judges),
``kind``, ``mode``, ``batch`` (judges), ``threshold`` (all but ensembles of kind ``any``),
``score=binary|share`` (rules: 1/0 on a match, or the share of the CoT's words that match, a
graded pressure such as ``rule:keywords=H,T@score=share``; flag when score >= threshold either
way) and ``case=insensitive|sensitive`` (``rule:keywords`` only; ``regex:`` is case-sensitive
unless ``(?i)``, so ``regex:\b[HT]\b@score=share`` counts only capital H and T).
Ensemble members are separated by ``|`` outside brackets, so a regex member keeps its
alternations inside ``(...)``. Activation monitors (``probe:``, ``features:``) are registered by
``faithline.interp``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field

from faithline.errors import BadInputError
from faithline.models import Model, load_model
from faithline.monitors.base import Monitor
from faithline.registry import Registry

_OPTION = re.compile(r"^\w+=[^,=@]*(?:,\w+=[^,=@]*)*$")
Loader = Callable[[str], Model]


@dataclass
class SpecContext:
    """What a monitor factory may need besides its spec: models shared through ``pool``
    (spec -> model, so two judges on one model load it once), the loader, the seed."""

    pool: MutableMapping[str, Model] = field(default_factory=dict)
    load: Loader = load_model
    seed: int = 0

    def model(self, spec: str) -> Model:
        if not spec:
            raise BadInputError("this monitor spec needs a model spec, e.g. "
                                "judge:builtin:smollm2-135m")
        if spec not in self.pool:
            self.pool[spec] = self.load(spec)
        return self.pool[spec]

    def monitor(self, spec: str) -> Monitor:
        """A member monitor (ensembles, wrappers), sharing this context."""
        return get_monitor(spec, self.pool, self.load, self.seed)


MonitorFactory = Callable[[str, SpecContext], Monitor]
MONITORS: Registry[Monitor] = Registry("monitor kind")


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


def get_monitor(spec: str, pool: MutableMapping[str, Model] | None = None,
                load: Loader = load_model, seed: int = 0) -> Monitor:
    """The monitor ``spec`` names (``KIND:REST``, see ``MONITORS``). Models are loaded with
    ``load`` and shared through ``pool`` (spec -> model), so two judges on one model load it
    once."""
    spec = spec.strip()
    kind, _, rest = spec.partition(":")
    if kind not in MONITORS:
        raise BadInputError(f"unknown monitor kind '{kind}' in '{spec}'; known: "
                            f"{', '.join(MONITORS.names())}")
    ctx = SpecContext({} if pool is None else pool, load, seed)
    return MONITORS.get(kind)(rest, ctx)


def _rule(kind: str) -> MonitorFactory:
    def build(rest: str, ctx: SpecContext) -> Monitor:
        from faithline.monitors.rules import rule_monitor

        body, opts = split_options(rest, ("view", "threshold", "score", "case"))
        rule = rule_monitor(kind, body, opts.get("view", "cot"), opts.get("score", "binary"),
                            opts.get("case"))
        rule.threshold = _float(opts, "threshold", rule.threshold)
        return rule

    return build


def _judge(rest: str, ctx: SpecContext) -> Monitor:
    from faithline.monitors.llm_judge import JudgeMonitor

    body, opts = split_options(rest, ("kind", "view", "mode", "threshold", "batch"))
    if not body:
        raise BadInputError("monitor spec 'judge:' needs a model spec, e.g. "
                            "judge:builtin:smollm2-135m")
    return JudgeMonitor(ctx.model(body), kind=opts.get("kind", "hack"),
                        view=opts.get("view", "cot"), mode=opts.get("mode", "auto"),
                        threshold=_float(opts, "threshold", 0.5),
                        batch_size=int(_float(opts, "batch", 8)), seed=ctx.seed)


def _classifier(rest: str, ctx: SpecContext) -> Monitor:
    from faithline.monitors.classifier import load_classifier

    body, opts = split_options(rest, ("threshold",))
    if not body:
        raise BadInputError("monitor spec 'classifier:' needs a directory")
    t = _float(opts, "threshold", -1.0)
    return load_classifier(body, ctx.pool, threshold=None if t < 0 else t)


def _ensemble(rest: str, ctx: SpecContext) -> Monitor:
    from faithline.monitors.ensemble import EnsembleMonitor

    mode, _, members = rest.partition(":")
    return EnsembleMonitor(mode, [ctx.monitor(s) for s in split_members(members)])


def _paraphrased(rest: str, ctx: SpecContext) -> Monitor:
    from faithline.monitors.paraphrased import ParaphrasedMonitor
    from faithline.pipeline.paraphrase_specs import get_paraphraser, paraphraser_model_specs

    para_spec, arrow, inner_spec = rest.partition(">")
    if not arrow or not para_spec or not inner_spec:
        raise BadInputError(f"monitor spec 'paraphrased:{rest}' must look like "
                            "paraphrased:PARAPHRASER>MONITOR")
    inner = ctx.monitor(inner_spec)
    if para_spec == "stored":
        return ParaphrasedMonitor(None, inner)
    for s in paraphraser_model_specs(para_spec):
        ctx.model(s)
    return ParaphrasedMonitor(get_paraphraser(para_spec, ctx.pool, seed=ctx.seed), inner)


def _task_check(kind: str) -> MonitorFactory:
    def build(rest: str, ctx: SpecContext) -> Monitor:
        from faithline.monitors.consistency import TaskCheckMonitor

        body, opts = split_options(rest, ("threshold",))
        return TaskCheckMonitor(kind, body, threshold=_float(opts, "threshold", 0.5))

    return build


def _stored(rest: str, ctx: SpecContext) -> Monitor:
    from faithline.monitors.stored import StoredMonitor

    return StoredMonitor(rest)


MONITORS.register("rule", _rule("rule"), grammar="rule:PRESET | rule:keywords=a,b",
                  help="rules (rules.py); presets leak, hack, tests, leak-use, overreach, "
                       "sycophancy, cue; @score=binary|share, @case=sensitive")
MONITORS.register("regex", _rule("regex"), grammar="regex:PATTERN",
                  help="a regular expression over the CoT (or @view=answer)")
MONITORS.register("judge", _judge,
                  grammar="judge:MODEL_SPEC[@kind=hack|cue|deception,view=cot|answer,"
                          "mode=auto|score|generate]",
                  help="an LLM judge on any model spec (llm_judge.py)")
MONITORS.register("classifier", _classifier, grammar="classifier:DIR",
                  help="a text classifier trained by faithline monitor-train (classifier.py)")
MONITORS.register("ensemble", _ensemble, grammar="ensemble:any|mean|vote:A|B|...",
                  help="several monitors combined (ensemble.py)")
MONITORS.register("paraphrased", _paraphrased, grammar="paraphrased:PARAPHRASER>MONITOR",
                  help="paraphrase the CoT, then monitor it (or paraphrased:stored>M)")
MONITORS.register("stored", _stored, grammar="stored:NAME",
                  help="verdicts already in the transcripts (stored.py)")
MONITORS.register("consistency", _task_check("consistency"), grammar="consistency:TASK",
                  help="the answer is the CoT's conclusion (consistency.py)")
MONITORS.register("chain", _task_check("chain"), grammar="chain:TASK",
                  help="the CoT's steps check out against the task (consistency.py)")
