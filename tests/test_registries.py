"""One registry per kind of part: ``--help`` lists exactly what is registered, and a part added
by registration alone (here a monitor kind defined in this file) is usable from the CLI."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from faithline.cli.main import build_parser, main
from faithline.faithfulness import TESTS
from faithline.monitors.base import Monitor, Verdict, view_text
from faithline.monitors.specs import MONITORS, SpecContext, split_options
from faithline.pipeline.paraphrase_specs import PARAPHRASERS
from faithline.registry import Registry, load_parts
from faithline.tasks import TASKS
from faithline.train.arms import ARMS
from faithline.types import Transcript


def help_of(*command: str) -> None:
    """Print ``faithline COMMAND --help`` (read it with capsys)."""
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args([*command, "--help"])


def listed(text: str, heading: str) -> list[str]:
    """The kind names of the indented rows under ``heading`` in a --help text."""
    block = text.split(heading, 1)[1].split("\n\n", 1)[0]
    rows = [line for line in block.splitlines()[1:] if re.match(r"^  \S", line)]
    return [re.split(r"[:\[ ]", row.strip(), maxsplit=1)[0] for row in rows]


@pytest.mark.parametrize(("command", "heading", "registry"), [
    (("monitor",), "Monitor kinds (--monitor SPEC):", MONITORS),
    (("paraphrase",), "Paraphraser specs (--paraphraser):", PARAPHRASERS),
    (("eval",), "Tests (--tests):", TESTS),
    (("generate",), "Task specs (--task; or a Task JSONL file):", TASKS),
    (("train", "rl"), "Arms (--arm):", ARMS),
])
def test_help_lists_exactly_the_registered_kinds(
        command: tuple[str, ...], heading: str, registry: Registry[object],
        capsys: pytest.CaptureFixture[str]) -> None:
    help_of(*command)
    text = capsys.readouterr().out
    assert listed(text, heading) == registry.in_order()


def test_every_command_comes_from_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    from faithline.config import COMMANDS

    help_of()
    text = capsys.readouterr().out
    for name in COMMANDS.names():
        assert re.search(rf"^    {re.escape(name)}\s", text, re.M), name
    assert {"demo", "eval", "generate", "monitor", "paraphrase", "train"} <= set(COMMANDS.names())


@dataclass
class LongCotMonitor:
    """Flags CoTs of more than ``words`` words: a monitor kind this test adds."""

    words: int
    view: str = "cot"
    threshold: float = 0.5

    @property
    def name(self) -> str:
        return f"long:{self.words}"

    def __call__(self, transcripts: Sequence[Transcript],
                 progress: bool = False) -> list[Verdict]:
        return [Verdict.of(float(len(view_text(t, self.view).split()) > self.words),
                           self.threshold, "long" if len(t.cot.split()) > self.words else "")
                for t in transcripts]


def long_monitor(rest: str, ctx: SpecContext) -> Monitor:
    body, opts = split_options(rest, ("view",))
    return LongCotMonitor(int(body), view=opts.get("view", "cot"))


@pytest.fixture
def long_kind() -> Iterator[None]:
    MONITORS.register("long", long_monitor, grammar="long:N[@view=cot|answer]",
                      help="flag CoTs longer than N words")
    yield
    MONITORS.unregister("long")


def test_a_monitor_added_by_registration_alone_works_from_the_cli(
        long_kind: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cots = ["one two", "one two three four five six", "a b c d e f g h", "short"]
    data = tmp_path / "in.jsonl"
    data.write_text("".join(
        Transcript(id=f"t{i}", prompt="p", cot=c, answer="x", gold="x", correct=True,
                   label={"long": len(c.split()) > 4}).to_json() + "\n"
        for i, c in enumerate(cots)))
    help_of("monitor")
    assert "long:N[@view=cot|answer]" in capsys.readouterr().out
    out = tmp_path / "mon"
    assert main(["monitor", "--monitor", "long:4", str(data), "--labels", "long",
                 "--out", str(out), "--quiet"]) == 0
    verdicts = [json.loads(line)["monitor"]["long:4"]
                for line in (out / "transcripts.jsonl").read_text().splitlines()]
    assert [v["flag"] for v in verdicts] == [False, True, True, False]
    recall = json.loads((out / "metrics.json").read_text())["monitors"]["long:4"]
    assert recall["all"]["recall"]["value"] == 1.0
    assert main(["monitor", "--monitor", "lng:4", str(data), "--out", str(tmp_path / "x"),
                 "--quiet"]) == 2
    assert "unknown monitor kind 'lng'" in capsys.readouterr().err


def test_registries_refuse_duplicates_and_find_parts_of_higher_floors() -> None:
    with pytest.raises(ValueError, match="already registered"):
        MONITORS.register("rule", long_monitor)
    load_parts()  # every package imported: interp's kinds are there, monitors never imports it
    assert {"probe", "features"} <= set(MONITORS.names())
    from faithline.models.builtin import BUILTINS

    assert {"smollm2-135m", "organism", "organism-faithful"} <= set(BUILTINS.names())


def test_an_installed_package_adds_parts_through_an_entry_point(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A distribution on sys.path whose ``faithline.parts`` entry point names a module: that
    module's registrations are there after ``load_parts`` (read by importlib.metadata)."""
    import faithline.registry as registry
    from faithline.monitors import get_monitor

    (tmp_path / "my_parts.py").write_text(
        "from faithline.monitors.specs import MONITORS, get_monitor\n"
        "MONITORS.register('plugin-words', lambda rest, ctx: get_monitor('rule:keywords=' + rest),"
        " help='from an installed package')\n")
    info = tmp_path / "my_parts-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-parts\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[faithline.parts]\nmine = my_parts\nbroken = my_missing_parts\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_done", False)
    try:
        with pytest.warns(UserWarning, match="'broken' .* failed to import"):
            load_parts()  # a broken plugin is a warning; the others' parts are there
        entry = MONITORS.entry("plugin-words")
        assert entry is not None and entry.help == "from an installed package"
        t = Transcript(id="a", prompt="p", cot="so I use leak", answer="x")
        assert get_monitor("plugin-words:leak")([t])[0].flag
    finally:
        if "plugin-words" in MONITORS:
            MONITORS.unregister("plugin-words")
