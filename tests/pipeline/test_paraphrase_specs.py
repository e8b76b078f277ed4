"""Paraphraser specs, chains, ensembles, fidelity, and ``faithline paraphrase``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from faithline.errors import BadInputError, ParaphraseError
from faithline.pipeline.paraphrase_llm import (
    COPY_PENALTY,
    ContextAwareParaphraser,
    content_fidelity,
)
from faithline.pipeline.paraphrase_specs import get_paraphraser, paraphraser_model_specs

GOLD = "- Flip 1: Heads\n- Flip 2: Tails\n- Flip 3: Tails"


def test_specs() -> None:
    assert get_paraphraser("none").name == "none"
    assert get_paraphraser("canonical").name == "canonical"
    assert get_paraphraser("chain:canonical|none").name == "chain:canonical|none"
    assert paraphraser_model_specs("ensemble:canonical|llm:hf:./m|context:gguf:x.gguf") == [
        "hf:./m", "gguf:x.gguf"]
    assert paraphraser_model_specs("builtin:smollm2-135m") == ["builtin:smollm2-135m"]
    with pytest.raises(BadInputError, match="no members"):
        get_paraphraser("chain:")
    with pytest.raises(BadInputError, match="needs a model spec"):
        get_paraphraser("llm:")
    with pytest.raises(BadInputError, match="unknown model back-end"):
        get_paraphraser("nosuch:thing")


def test_chain_propagates_failures_and_ensemble_mixes() -> None:
    chain = get_paraphraser("chain:canonical|canonical")
    ok, bad = chain.paraphrase([GOLD, "no steps here at all"])
    assert isinstance(ok, str) and "Tails" in ok
    assert isinstance(bad, ParaphraseError)
    ens = get_paraphraser("ensemble:none|canonical", seed=0)
    outs = ens.paraphrase([GOLD] * 30)
    assert GOLD in outs and any(o != GOLD for o in outs)


def test_content_fidelity() -> None:
    src = "First 12 plus 30 makes 42, then adding 5 gives 47."
    assert content_fidelity(src, src) == 1.0 - COPY_PENALTY  # a verbatim copy is no paraphrase
    assert content_fidelity(src, "First, 12 plus 30 makes 42; adding 5 then gives 47!") == 1.0
    assert content_fidelity(src, "12 plus 30 makes 42, then adding 5 gives 48.") < 0.9
    assert content_fidelity(src, "I like turtles.") == 0.0


def test_llm_low_fidelity_fails_closed(smollm2: Any) -> None:
    para = get_paraphraser("llm:x", {"x": smollm2}, max_new_tokens=96, min_fidelity=0.999)
    cot = "12 + 30 = 42\n42 + 57 = 99\n99 + 123 = 222\n222 + 8 = 230"
    (out,) = para.paraphrase([cot])
    if isinstance(out, ParaphraseError):
        assert out.kind in {"low-fidelity", "truncated"}
    else:  # a perfect paraphrase is possible, but then it kept everything
        assert out.fidelity >= 0.999  # type: ignore[attr-defined]


def test_context_aware_sees_the_question(smollm2: Any) -> None:
    para = ContextAwareParaphraser(smollm2, max_new_tokens=96)
    assert "Which side" in para.prompt(GOLD, "Which side is up?").messages[0].content
    with pytest.raises(BadInputError):
        para.paraphrase([GOLD])
    (out,) = para.paraphrase([GOLD], ["Which side is up after flip 3?"])
    assert isinstance(out, (str, ParaphraseError))
    if isinstance(out, str):
        assert out.strip() and out.fidelity is not None  # type: ignore[attr-defined]


def test_paraphrase_command_fails_closed_and_resumes(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    rows = [{"id": "a", "prompt": "q", "cot": GOLD, "answer": "Tails", "keep": 1},
            {"id": "b", "prompt": "q", "cot": "pure prose, no steps", "answer": "Heads"}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "faithline.cli.main", "paraphrase", str(src), "--out", str(out),
           "--paraphraser", "canonical", "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [w["id"] for w in written] == ["a"]
    assert written[0]["keep"] == 1 and written[0]["paraphrased_cot"] != GOLD
    fail = json.loads(Path(str(out) + ".failures.jsonl").read_text())
    assert fail["id"] == "b" and fail["kind"] == "low-fidelity"
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert "1 already there" in r.stdout
    assert len(out.read_text().splitlines()) == 1
    bad = subprocess.run([*cmd[:4], str(tmp_path / "missing.jsonl"), *cmd[5:]],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "does not exist" in bad.stderr


class _ChangeAnswer:
    """A rule paraphraser that rewrites the final answer (what a bad paraphrase may do)."""

    name = "change-answer"

    def paraphrase(self, cots: list[str], questions: list[str] | None = None) -> list[Any]:
        return [c.replace("Answer: 1404", "Answer: 1504") for c in cots]


def test_checked_spec_names_reader_and_inner() -> None:
    assert paraphraser_model_specs("checked:hf:./r>llm:gguf:x.gguf") == ["hf:./r", "gguf:x.gguf"]
    with pytest.raises(BadInputError, match="checked:READER>P"):
        get_paraphraser("checked:canonical")


def test_reader_model_catches_a_changed_answer(smollm2: Any) -> None:
    from faithline.pipeline.paraphrase_specs import AnswerChecked

    cot = "53 + 692 = 745\n745 + 640 = 1385\n1385 + 19 = 1404\nAnswer: 1404"
    question = "What is 53 + 692 + 640 + 19?"
    pool = {"builtin:smollm2-135m": smollm2}
    kept = get_paraphraser("checked:builtin:smollm2-135m>canonical", pool)
    (out,) = kept.paraphrase([cot], [question])
    assert isinstance(out, str) and "1404" in out, out  # the reader answers 1404 from both
    (bad,) = AnswerChecked(smollm2, _ChangeAnswer()).paraphrase([cot], [question])
    assert isinstance(bad, ParaphraseError) and bad.kind == "answer-changed"
    assert "'1404'" in str(bad) and "'1504'" in str(bad)
