"""Name -> factory registries that refuse duplicate names (after SAELens ``registry.py``).

One registry per kind of part: model back-ends, tasks, paraphrasers, monitors, faithfulness
tests, arms, attacks, experiments, report sections, commands. Each entry carries its spec
grammar and one line of help, so ``--help`` lists come from the registry and cannot go stale::

    MONITORS.register("rule", "faithline.monitors.rules:from_spec",
                      grammar="rule:PRESET | rule:keywords=a,b", help="rule monitors ...")

Factories register lazily: a factory may be an import path (``"module:attr"``) resolved on first
use, so ``import faithline`` never imports torch.

A part registers itself into a lower floor's registry (DESIGN.md, "Floors"): ``interp``
registers the ``probe:`` monitor kind, so ``monitors`` never imports ``interp``. Registrations
run when their package is imported. A lookup that misses, and every listing, first imports every
faithline package (``load_parts``) and every module named by a ``faithline.parts`` entry point,
so a part registered by a package above, or by another installed package, is found::

    # pyproject.toml of a user's package
    [project.entry-points."faithline.parts"]
    my_monitors = "my_package.faithline_parts"   # a module that calls MONITORS.register(...)
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
import textwrap
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from faithline.errors import BadInputError

T = TypeVar("T")
_lock = threading.RLock()
_started = False  # load_parts is running (a lookup from inside one of its imports returns)
_done = False


def load_parts() -> None:
    """Import every faithline package and every ``faithline.parts`` entry point, once, so that
    every part has registered itself. Package ``__init__`` modules stay light (no torch). Other
    threads wait until it is done, so none sees a half-filled registry."""
    global _started, _done
    if _done:
        return
    with _lock:
        if _done or _started:
            return
        _started = True
        try:
            import faithline

            for info in pkgutil.iter_modules(faithline.__path__):
                if info.ispkg:
                    importlib.import_module(f"faithline.{info.name}")
            from importlib.metadata import entry_points

            for ep in entry_points(group="faithline.parts"):
                try:
                    importlib.import_module(ep.value.partition(":")[0])
                except Exception as e:  # another package's bug must not stop every command
                    warnings.warn(f"faithline.parts entry point '{ep.name}' ({ep.value}) failed "
                                  f"to import, its parts are missing: {e!r}", stacklevel=2)
        finally:
            _done, _started = True, False


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered part: its factory, its spec grammar and one line of help."""

    name: str
    factory: str | Callable[..., T]
    grammar: str
    help: str
    meta: Mapping[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """Parts of one kind by name: ``names()`` sorted, ``in_order()`` and ``entries()`` in
    registration order."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, factory: str | Callable[..., T], *, grammar: str = "",
                 help: str = "", **meta: Any) -> None:
        """Register ``factory`` (a callable or a ``"module:attr"`` path) under ``name``, with
        the spec ``grammar`` it parses (default: the name), one line of ``help`` and any data
        the registry's owner reads (``meta``)."""
        if name in self._entries:
            raise ValueError(f"{self.kind} '{name}' is already registered")
        self._entries[name] = Entry(name, factory, grammar or name, help, meta)

    def entry(self, name: str) -> Entry[T] | None:
        """The entry of ``name`` (None if there is none)."""
        return self._entries.get(name) if name in self else None

    def unregister(self, name: str) -> None:
        """Remove ``name`` (for tests that register a part of their own)."""
        del self._entries[name]

    def names(self) -> list[str]:
        """The names, sorted."""
        load_parts()
        return sorted(self._entries)

    def in_order(self) -> list[str]:
        """The names in registration order (the order ``--help`` lists and ``all`` runs)."""
        load_parts()
        return list(self._entries)

    def entries(self) -> list[Entry[T]]:
        load_parts()
        return list(self._entries.values())

    def __contains__(self, name: object) -> bool:
        if name not in self._entries:
            load_parts()
        return name in self._entries

    def help_text(self, indent: str = "  ", width: int = 100) -> str:
        """One row per part: its grammar, then its help, wrapped to ``width`` (for ``--help``
        and error messages)."""
        rows = [(e.grammar, e.help) for e in self.entries()]
        col = min(max((len(g) for g, _ in rows), default=0), 36)
        pad = indent + " " * (col + 2)
        lines = []
        for grammar, text in rows:
            wrapped = textwrap.wrap(text, max(width - len(pad), 30)) or [""]
            if len(grammar) > col:
                lines.append(f"{indent}{grammar}")
                lines += [pad + w for w in wrapped if w]
            else:
                lines.append(f"{indent}{grammar:{col}}  {wrapped[0]}".rstrip())
                lines += [pad + w for w in wrapped[1:]]
        return "\n".join(lines)

    def get(self, name: str) -> Callable[..., T]:
        if name not in self:
            close = difflib.get_close_matches(name, self._entries, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise BadInputError(
                f"unknown {self.kind} '{name}'{hint}; known: {', '.join(self.names())}"
            )
        entry = self._entries[name]
        factory = entry.factory
        if isinstance(factory, str):
            module, _, attr = factory.partition(":")
            factory = getattr(importlib.import_module(module), attr)
            self._entries[name] = Entry(name, factory, entry.grammar, entry.help, entry.meta)
        return factory
