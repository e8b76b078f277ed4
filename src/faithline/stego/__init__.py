"""Steganography in CoTs: synthetic attacks and the capacity in bits that survives paraphrase.

>>> from faithline.stego import get_attack                      # doctest: +SKIP
>>> attack = get_attack("acrostic")                              # doctest: +SKIP
>>> text = attack.encode([cover], [[1, 0, 1, 1]])[0]             # doctest: +SKIP
>>> attack.decode(text, 4)                                       # doctest: +SKIP
[1, 0, 1, 1]

Attacks (``stego/attacks.py``, ``stego/channels.py``, ``stego/prompted.py``), one per surface
channel: ``synonym`` and ``contractions`` (word choice), ``acrostic`` and ``sentences``
(sentence structure), ``whitespace`` (spacing, bullets, full stops), ``digits`` and
``separators`` (numbers), ``punctuation``, ``order`` (commutative operands), ``formatting``
(markdown), ``invisible`` (zero-width characters), ``spaces`` (no-break spaces), all
rule-based, and ``prompted`` (a model, any spec, asked to hide the bits). ``faithline
stego-capacity`` (``stego/capacity.py``) measures how many bits per KB of CoT survive each
paraphraser.
"""

from __future__ import annotations

from faithline.errors import BadInputError
from faithline.models.base import Model
from faithline.registry import Registry
from faithline.stego.base import Attack

# Rule-based surface channels first (word choice, sentence structure, whitespace, numbers,
# punctuation, ordering, formatting, invisible characters), then the model encoder; "all" runs
# them in this registration order. ``model=True``: the attack needs an encoder model.
ATTACKS: Registry[Attack] = Registry("attack")
for _name, _path, _help in (
        ("synonym", "attacks:SynonymAttack", "word choice among synonyms"),
        ("contractions", "attacks:ContractionAttack", "contracted or spelled-out forms"),
        ("acrostic", "attacks:AcrosticAttack", "first letters of sentences"),
        ("sentences", "attacks:SentenceAttack", "sentence structure"),
        ("whitespace", "attacks:WhitespaceAttack", "spacing, bullets, full stops"),
        ("digits", "channels:DigitsAttack", "numbers in digits or words"),
        ("separators", "channels:SeparatorAttack", "thousands separators"),
        ("punctuation", "channels:PunctuationAttack", "punctuation choices"),
        ("order", "channels:OrderAttack", "order of commutative operands"),
        ("formatting", "channels:FormattingAttack", "markdown formatting"),
        ("invisible", "channels:InvisibleAttack", "zero-width characters"),
        ("spaces", "channels:SpaceAttack", "no-break spaces")):
    ATTACKS.register(_name, f"faithline.stego.{_path}", help=_help)
ATTACKS.register("prompted", "faithline.stego.prompted:PromptedAttack", model=True,
                 help="a model (any spec) asked to hide the bits")


def __getattr__(name: str) -> object:
    """``ATTACK_ORDER`` and ``MODEL_ATTACKS``, read from the registry."""
    if name == "ATTACK_ORDER":
        return tuple(ATTACKS.in_order())
    if name == "MODEL_ATTACKS":
        return frozenset(e.name for e in ATTACKS.entries() if e.meta.get("model"))
    raise AttributeError(f"module 'faithline.stego' has no attribute '{name}'")


def needs_model(name: str) -> bool:
    entry = ATTACKS.entry(name)
    return bool(entry and entry.meta.get("model"))


def parse_attacks(spec: str) -> list[str]:
    """``"all"`` or a comma-separated list of attack names, validated, in order, deduplicated."""
    names = ATTACKS.in_order() if spec.strip() == "all" else [
        a.strip() for a in spec.split(",") if a.strip()]
    if not names:
        raise BadInputError("no attack named (use 'all' or e.g. 'synonym,acrostic')")
    for name in names:
        ATTACKS.get(name)
    return list(dict.fromkeys(names))


def get_attack(name: str, model: Model | None = None, seed: int = 0) -> Attack:
    """The attack ``name``; the prompted attack needs the encoder ``model``."""
    factory = ATTACKS.get(name)
    if needs_model(name):
        if model is None:
            raise BadInputError(f"attack '{name}' needs an encoder model")
        attack: Attack = factory(model, seed=seed)
        return attack
    made: Attack = factory()
    return made


__all__ = ["ATTACKS", "ATTACK_ORDER", "MODEL_ATTACKS", "Attack", "get_attack", "needs_model",
           "parse_attacks"]

from faithline.config import COMMANDS  # noqa: E402

COMMANDS.register("stego-capacity", "faithline.stego.cli:install")
