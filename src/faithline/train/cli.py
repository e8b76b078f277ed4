"""``faithline train organism|rl``: the model organism's warm-up, and GRPO on any model and task.

    faithline train organism                       # about 2 minutes on 2 CPU cores, cached
    faithline train organism --kind post-hoc       # a known-answer organism (standards.py)
    faithline train rl --arm pressure --seed 1 --out runs/rl/pressure-s1
    faithline train rl --model builtin:smollm2-135m --task addition:operands=4 \
        --arm paraphrase --paraphraser llm:builtin:smollm2-135m --monitor rule:hack --steps 2
"""

from __future__ import annotations

import argparse
import json

from faithline.config import AddCommand, add_config_args, config_from_args


def cmd_organism(ns: argparse.Namespace) -> int:
    from faithline.train.organism import OrganismConfig, read_card, train_organism

    if ns.kind:  # a known-answer organism, builtin:organism-<kind> (train/standards.py)
        from faithline.train.standards import CARD, StandardConfig, train_standard

        path = train_standard(StandardConfig(kind=ns.kind), force=ns.force,
                              progress=not ns.quiet)
        card = read_card(path, CARD)
        print(f"{path}\n{json.dumps(card.get('probe', {}), indent=2)}")
        return 0
    path = train_organism(config_from_args(OrganismConfig, ns), force=ns.force,
                          progress=not ns.quiet)
    card = read_card(path)
    print(f"{path}\n{json.dumps(card.get('probe', {}), indent=2)}")
    return 0


def cmd_rl(ns: argparse.Namespace) -> int:
    from faithline.train.rl import RLConfig, train_rl

    run = train_rl(config_from_args(RLConfig, ns), progress=not ns.quiet)
    final = run.metrics().get("final", {})
    print(f"monitor: {run.metrics().get('monitor')}")
    for key, ci in final.items():
        print(f"{key:16s} {ci['value']:.3f} [{ci['ci_low']:.3f}, {ci['ci_high']:.3f}] "
              f"n={ci['n']}")
    print(f"run: {run.path}; report: faithline report {run.path}")
    return 0


def install(add: AddCommand) -> None:
    from faithline.train import organism, rl

    train = add("train", lambda ns: ns.train_handler(ns), __doc__)
    sub = train.add_subparsers(dest="what", required=True, metavar="WHAT")
    from faithline.train.arms import ARMS

    rl_doc = f"{rl.__doc__}\nArms (--arm):\n{ARMS.help_text()}\n"
    for name, handler, mod, cls, doc in (
            ("organism", cmd_organism, organism, "OrganismConfig", organism.__doc__),
            ("rl", cmd_rl, rl, "RLConfig", rl_doc)):
        p = sub.add_parser(name, help=(mod.__doc__ or "").strip().splitlines()[0],
                           description=doc,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        p.set_defaults(train_handler=handler)
        add_config_args(p, getattr(mod, cls))
    sub.choices["organism"].add_argument("--force", action="store_true",
                                         help="retrain even if cached")
    from faithline.train.standards import KINDS

    sub.choices["organism"].add_argument(
        "--kind", choices=KINDS, default=None,
        help="train a known-answer organism instead (builtin:organism-KIND, its own recipe; "
             "the options above are the RL organism's): " + ", ".join(KINDS))
