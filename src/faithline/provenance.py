"""Where a number came from: the code, the machine and the libraries a run ran on.

``environment()`` is recorded in every ``run.json`` and in every committed results table
(``docs/results/*.json``); ``provenance_line`` is its one-line human form under a table::

    from faithline.provenance import environment, provenance_line
    provenance_line(environment(), {"seeds": 8})
    # 'commit 412015a · Intel(R) Xeon(R) Processor (avx512) · torch 2.13.0+cpu · 1 thread
    #  · 2026-12-07 · seeds=8'

CPU kernels differ by instruction set (torch picks AVX512, AVX2 or a default path at run time,
overridable with ``ATEN_CPU_CAPABILITY``), and so can the last digits of a training run: the
ISA torch actually used is recorded next to the commit. Only the standard library is imported
here; torch only inside ``environment()`` and only when it is installed. Nothing here raises.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.util
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# The keys of environment(); anything else in a provenance dict is an extra (seeds, wall time).
ENV_KEYS = ("commit", "dirty", "faithline", "python", "platform", "cpu_model", "cpu_count",
            "torch", "cpu_capability", "aten_cpu_capability", "torch_threads",
            "omp_num_threads", "date")


def _git(cwd: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                             timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def source_commit() -> tuple[str | None, bool | None]:
    """(HEAD, dirty) of the git checkout faithline runs from; (None, None) when faithline is
    not a tracked part of one (an installed wheel, even inside someone else's repository).
    Read once per process, at first use: a long-lived worker records the commit it started
    at (its code), not one committed while it ran."""
    pkg = Path(__file__).resolve().parent
    if _git(pkg, "ls-files", "--error-unmatch", "__init__.py") is None:
        return None, None
    head = _git(pkg, "rev-parse", "HEAD")
    if not head:
        return None, None
    status = _git(pkg, "status", "--porcelain")
    return head.strip(), (None if status is None else bool(status.strip()))


def cpu_model() -> str:
    """The CPU's "model name" from /proc/cpuinfo, else ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _torch() -> dict[str, Any]:
    info: dict[str, Any] = {"torch": None, "cpu_capability": None, "torch_threads": None}
    try:
        if importlib.util.find_spec("torch") is None:
            return info
        import torch

        info["torch"] = str(torch.__version__)
        info["torch_threads"] = int(torch.get_num_threads())
        info["cpu_capability"] = str(torch.backends.cpu.get_cpu_capability())
    except Exception:  # a broken torch install must not stop a run from being recorded
        pass
    return info


def environment() -> dict[str, Any]:
    """The code, machine and libraries of this process, as a JSON-ready dict (keys
    ``ENV_KEYS``); a field that cannot be read is None."""
    from faithline import __version__

    commit, dirty = source_commit()
    torch = _torch()
    return {
        "commit": commit,
        "dirty": dirty,
        "faithline": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch": torch["torch"],
        "cpu_capability": torch["cpu_capability"],  # the ISA torch's CPU kernels dispatch to
        "aten_cpu_capability": os.environ.get("ATEN_CPU_CAPABILITY"),
        "torch_threads": torch["torch_threads"],
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _item(key: str, value: Any) -> str | None:
    if value is None or isinstance(value, Mapping):
        return None  # mappings stay in the JSON, out of the line
    if isinstance(value, (list, tuple)):
        return f"{key}={len(value)}"  # seeds=[0, ..., 7] reads "seeds=8"
    if isinstance(value, float):
        return f"{key}={value:g}"
    return f"{key}={value}"


def provenance_line(env: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> str:
    """One human line from an ``environment()`` dict (missing keys are left out), then the
    ``extra`` items as ``key=value`` (a list shows its length, a mapping is left out)::

        commit 412015a (dirty) · AMD EPYC 7B13 (avx2) · torch 2.13.0 · 1 thread
        · ATEN_CPU_CAPABILITY=default · 2026-12-07 · seeds=8 · wall_seconds=812.4
    """
    parts: list[str] = []
    if env.get("commit"):
        parts.append(f"commit {str(env['commit'])[:7]}" + (" (dirty)" if env.get("dirty") else ""))
    cpu = env.get("cpu_model")
    isa = env.get("cpu_capability")
    if cpu or isa:
        parts.append(" ".join(p for p in (cpu, f"({str(isa).lower()})" if isa else None) if p))
    if env.get("torch"):
        parts.append(f"torch {env['torch']}")
    threads = env.get("torch_threads")
    if threads is not None:
        parts.append(f"{threads} thread" + ("" if threads == 1 else "s"))
    if env.get("aten_cpu_capability"):
        parts.append(f"ATEN_CPU_CAPABILITY={env['aten_cpu_capability']}")
    if env.get("date"):
        parts.append(str(env["date"])[:10])
    parts += [s for k, v in (extra or {}).items() if (s := _item(k, v))]
    return " · ".join(parts)
