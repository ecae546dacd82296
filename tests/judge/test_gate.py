"""The judgement's accuracy gate on the corpus's held-out split, and what the corpus must hold.

`make test` runs `hub judge eval --gate` on the held-out split (records training never sees:
a hash of the id puts 20 % there). The committed model must be the one the current taxonomy and
corpus train to, or the figures would be measured on a stale artifact.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub.judge.config import get_taxonomy, taxonomy_fingerprint
from hub.judge.corpus import CORPUS_DIR, ComplaintRecord, SurveyRecord, counts, is_heldout, load_corpus, split
from hub.judge.evaluate import GATE, evaluate, gate_failures
from hub.judge.model import DEFAULT_PATH, load_model_file


@pytest.fixture(scope="module")
def corpus() -> list[ComplaintRecord | SurveyRecord]:
    return load_corpus()


def test_corpus_is_large_and_covers_every_channel_and_industry(corpus: list) -> None:
    complaints = [r for r in corpus if isinstance(r, ComplaintRecord)]
    c = counts(corpus)
    assert len(complaints) >= 3000
    assert set(c["channel"]) == {"gov12315", "blackcat", "app", "sms", "callcenter"}
    assert all(c["channel"][ch] >= 500 for ch in ("gov12315", "blackcat", "app", "callcenter", "sms"))
    assert len(c["industry"]) >= 8
    assert set(c["reason"]) == {"product", "service", "info_security"}
    assert set(c["urgency"]) == {"urgent", "general", "consultation"}
    # hard cases on purpose, each kind present many times
    assert all(c["hard"][h] >= 30 for h in ("negation", "lookalike", "mixed", "elderly", "typo", "traditional"))
    assert c["survey"]["neutral"] >= 20 and c["survey"]["unsubscribe"] >= 20


def test_heldout_split_is_stable_and_never_trained_on(corpus: list) -> None:
    train, held = split(corpus)
    assert 0.15 < len(held) / len(corpus) < 0.25
    assert all(is_heldout(r.id) for r in held) and not any(is_heldout(r.id) for r in train)
    model = load_model_file(DEFAULT_PATH)
    assert model.meta["records"] == len([r for r in train if isinstance(r, ComplaintRecord)])


def test_committed_model_matches_the_taxonomy() -> None:
    model = load_model_file(DEFAULT_PATH)
    assert model.meta["taxonomy"] == taxonomy_fingerprint(get_taxonomy()), \
        "config/taxonomy.yaml changed since the model was trained: run `hub judge train` and commit data/judge/model.json"


def test_model_loads_in_well_under_a_second() -> None:
    started = time.perf_counter()
    load_model_file(DEFAULT_PATH)
    assert time.perf_counter() - started < 1.0


def test_heldout_figures_hold_the_gate(corpus: list) -> None:
    _, held = split(corpus)
    rep = evaluate(held)
    figures = rep.as_dict()
    print("\nheld-out:", json.dumps(figures))
    assert not gate_failures(rep), gate_failures(rep)
    assert figures["escalation_recall"] == 1.0  # never miss a threat to go to a regulator, court or press


def test_hub_judge_eval_gate_command_on_a_file(tmp_path: Path, corpus: list) -> None:
    """`hub judge eval FILE --json --gate`: figures as JSON, exit 1 below the gate."""
    lines = [line for f in sorted(CORPUS_DIR.glob("app-*.jsonl")) for line in f.read_text(encoding="utf-8").splitlines()
             if line.strip() and is_heldout(json.loads(line)["id"])]
    path = tmp_path / "held.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", "from cli import app; app()", "judge", "eval", str(path), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)
    assert figures["records"] == len(lines) and 0.8 < figures["reason"] <= 1.0
    strict = subprocess.run([sys.executable, "-c", "from cli import app; app()", "judge", "eval", str(path), "--gate", "--json"],
                            capture_output=True, text=True, timeout=120)
    below = [k for k, v in GATE.items() if figures[k] < v]
    assert strict.returncode == (1 if below else 0), (below, strict.stderr)
