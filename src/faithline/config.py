"""Config dataclasses and their command-line form, below every part that defines a config.

A part's config is a frozen dataclass whose fields carry help text (``help_meta``). The CLI and
the Python API share that one definition: ``add_config_args(parser, GenerateConfig)``
adds ``--model``, ``--task``, ... and ``config_from_args(GenerateConfig, ns)`` builds the config.

A numeric field declares the values it accepts once, in its metadata::

    top_p: float = field(default=1.0, metadata=help_meta("nucleus top-p", gt=0, le=1))

``--help`` shows the range (``(in (0, 1]; default: 1.0)``) and ``check_config``, which a
config calls in its ``__post_init__`` (and ``config_from_args`` calls for every config), refuses
a value outside it with a ``BadInputError`` naming the option. NaN and infinities are refused
in every numeric field, declared or not.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from faithline.errors import BadInputError
from faithline.io import is_finite
from faithline.registry import Registry

C = TypeVar("C")
Handler = Callable[[argparse.Namespace], int]
AddCommand = Callable[[str, Handler, "str | None"], argparse.ArgumentParser]
Install = Callable[[AddCommand], None]

# Every ``faithline`` subcommand, one entry each: the factory is ``install(add)``, which calls
# ``add(name, handler, doc)`` once (the parser it returns takes the command's arguments). A part
# registers its commands in its package ``__init__``; ``faithline.cli.main`` builds the parser
# from this registry alone.
COMMANDS: Registry[None] = Registry("command")


def _base_type(tp: Any) -> Any:
    """``int | None`` -> int; ``str`` -> str."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0]
    return tp


def add_config_args(parser: argparse.ArgumentParser, cls: type[Any],
                    skip: tuple[str, ...] = ()) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        tp = _base_type(hints[f.name])
        help_text = field_help(f)
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if tp is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                                default=f.default, help=help_text)
            continue
        accepts = field_range(f)
        notes = [str(accepts)] if accepts is not None else []
        if not required:
            notes.append(f"default: {f.default}")
        if notes:
            help_text += f" ({'; '.join(notes)})"
        parser.add_argument(flag, dest=f.name, type=tp, required=required,
                            default=None if required else f.default, help=help_text,
                            metavar=f.name.upper())


def config_from_args(cls: type[C], ns: argparse.Namespace) -> C:
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    cfg = cls(**{k: v for k, v in vars(ns).items() if k in names})
    check_config(cfg)  # a config without __post_init__ (or one that skips it) is checked too
    return cfg


@dataclasses.dataclass(frozen=True)
class Range:
    """The numbers a config field accepts: finite, within the bounds given (``ge``: x >= ge,
    ``gt``: x > gt, ``le``: x <= le, ``lt``: x < lt)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def __contains__(self, x: object) -> bool:
        if not isinstance(x, (int, float)) or isinstance(x, bool):
            return False
        return is_finite(x) and (self.ge is None or x >= self.ge) and \
            (self.gt is None or x > self.gt) and (self.le is None or x <= self.le) and \
            (self.lt is None or x < self.lt)

    def __str__(self) -> str:
        """``>= 1``, ``> 0``, ``in [0, 1]``, ``in (0, 1]``; ``finite`` without bounds."""
        low = ("[", self.ge) if self.ge is not None else ("(", self.gt)
        high = ("]", self.le) if self.le is not None else (")", self.lt)
        if low[1] is not None and high[1] is not None:
            return f"in {low[0]}{_num(low[1])}, {_num(high[1])}{high[0]}"
        if low[1] is not None:
            return f"{'>=' if low[0] == '[' else '>'} {_num(low[1])}"
        if high[1] is not None:
            return f"{'<=' if high[0] == ']' else '<'} {_num(high[1])}"
        return "finite"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


ANY_FINITE = Range()
SEED = {"ge": 0, "le": 2**32 - 1}  # what every seed accepts (numpy's seeds are 32-bit)


def help_meta(text: str | Callable[[], str], *, ge: float | None = None,
              gt: float | None = None, le: float | None = None,
              lt: float | None = None) -> dict[str, Any]:
    """``field(metadata=help_meta("...", ge=1))``: the help text a config field shows on the
    CLI and, for a number, the range it accepts (``Range``). A callable text is called when the
    parser is built, so a list read from a registry (the known tests, monitors, paraphrasers)
    includes parts registered after the config was defined."""
    bounds = Range(ge=ge, gt=gt, le=le, lt=lt)
    return {"help": text, "range": bounds} if bounds != ANY_FINITE else {"help": text}


def field_range(f: dataclasses.Field[Any]) -> Range | None:
    """The range declared on ``f`` (``help_meta``), or None."""
    found = f.metadata.get("range")
    return found if isinstance(found, Range) else None


def check_config(cfg: Any) -> None:
    """Refuse a number outside its field's declared range, and NaN or an infinity anywhere:
    a ``BadInputError`` naming the option, e.g. ``--top-p must be in (0, 1], got 2.0``."""
    for f in dataclasses.fields(cfg):
        value, flag = getattr(cfg, f.name), "--" + f.name.replace("_", "-")
        declared = field_range(f)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if declared is not None and value is not None:
                raise BadInputError(f"{flag} must be a number {declared}, got {value!r}")
            continue
        accepts = declared or ANY_FINITE
        if value not in accepts:
            what = str(accepts) if is_finite(value) else \
                "a finite number" + (f" {accepts}" if accepts != ANY_FINITE else "")
            raise BadInputError(f"{flag} must be {what}, got {value!r:.40}")


def field_help(f: dataclasses.Field[Any]) -> str:
    text = f.metadata.get("help", "")
    return str(text() if callable(text) else text)
