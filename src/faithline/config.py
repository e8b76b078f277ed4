"""Config dataclasses and their command-line form, below every part that defines a config.

A part's config is a frozen dataclass whose fields carry help text (``help_meta``). The CLI and
the Python API share that one definition: ``add_config_args(parser, GenerateConfig)``
adds ``--model``, ``--task``, ... and ``config_from_args(GenerateConfig, ns)`` builds the config.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

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
        if not required:
            help_text += f" (default: {f.default})"
        parser.add_argument(flag, dest=f.name, type=tp, required=required,
                            default=None if required else f.default, help=help_text,
                            metavar=f.name.upper())


def config_from_args(cls: type[C], ns: argparse.Namespace) -> C:
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in vars(ns).items() if k in names})


def help_meta(text: str | Callable[[], str]) -> dict[str, Any]:
    """``field(metadata=help_meta("..."))``: the help text a config field shows on the CLI. A
    callable is called when the parser is built, so a list read from a registry (the known
    tests, monitors, paraphrasers) includes parts registered after the config was defined."""
    return {"help": text}


def field_help(f: dataclasses.Field[Any]) -> str:
    text = f.metadata.get("help", "")
    return str(text() if callable(text) else text)
