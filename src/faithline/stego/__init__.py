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

ATTACKS: Registry[Attack] = Registry("attack")
ATTACKS.register("synonym", "faithline.stego.attacks:SynonymAttack")
ATTACKS.register("acrostic", "faithline.stego.attacks:AcrosticAttack")
ATTACKS.register("whitespace", "faithline.stego.attacks:WhitespaceAttack")
ATTACKS.register("sentences", "faithline.stego.attacks:SentenceAttack")
ATTACKS.register("prompted", "faithline.stego.prompted:PromptedAttack")
ATTACKS.register("contractions", "faithline.stego.attacks:ContractionAttack")
for _name, _cls in (("digits", "DigitsAttack"), ("separators", "SeparatorAttack"),
                    ("punctuation", "PunctuationAttack"), ("order", "OrderAttack"),
                    ("formatting", "FormattingAttack"), ("invisible", "InvisibleAttack"),
                    ("spaces", "SpaceAttack")):
    ATTACKS.register(_name, f"faithline.stego.channels:{_cls}")
# Rule-based surface channels first (word choice, sentence structure, whitespace, numbers,
# punctuation, ordering, formatting, invisible characters), then the model encoder.
ATTACK_ORDER = ("synonym", "contractions", "acrostic", "sentences", "whitespace", "digits",
                "separators", "punctuation", "order", "formatting", "invisible", "spaces",
                "prompted")
MODEL_ATTACKS = frozenset({"prompted"})


def parse_attacks(spec: str) -> list[str]:
    """``"all"`` or a comma-separated list of attack names, validated, in order, deduplicated."""
    names = list(ATTACK_ORDER) if spec.strip() == "all" else [
        a.strip() for a in spec.split(",") if a.strip()]
    if not names:
        raise BadInputError("no attack named (use 'all' or e.g. 'synonym,acrostic')")
    for name in names:
        ATTACKS.get(name)
    return list(dict.fromkeys(names))


def get_attack(name: str, model: Model | None = None, seed: int = 0) -> Attack:
    """The attack ``name``; the prompted attack needs the encoder ``model``."""
    factory = ATTACKS.get(name)
    if name in MODEL_ATTACKS:
        if model is None:
            raise BadInputError(f"attack '{name}' needs an encoder model")
        attack: Attack = factory(model, seed=seed)
        return attack
    made: Attack = factory()
    return made


__all__ = ["ATTACKS", "ATTACK_ORDER", "MODEL_ATTACKS", "Attack", "get_attack", "parse_attacks"]

from faithline.config import COMMANDS  # noqa: E402

COMMANDS.register("stego-capacity", "faithline.stego.cli:install")
