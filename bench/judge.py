"""Benchmark: the judge in batches (normalise + match + model), texts/s on one core.

The baseline, measured in the same run over the same texts, is the rule pass alone
(normalise + segment + the phrase automaton: what judged a ticket before the model),
so the ratio shows what the model costs. Model load time is measured from a cold read
of the artifact. Texts are the corpus's complaints, cycled to `n`.

    .venv/bin/python -m bench.judge [--n 50000] [--batch 512]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the target says
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def measure(n: int, batch: int = 512) -> dict[str, Any]:
    """{"judge_per_s", "rules_per_s", "load_s", "n"} over `n` corpus texts."""
    from hub.judge.core import JudgeInput, judge_batch
    from hub.judge.corpus import ComplaintRecord, load_corpus
    from hub.judge.matcher import get_matcher
    from hub.judge.model import load_model_file, model_path

    t0 = time.perf_counter()
    model = load_model_file(model_path())
    load_s = time.perf_counter() - t0
    pool = [(r.channel, r.text) for r in load_corpus() if isinstance(r, ComplaintRecord)]
    items = [JudgeInput(*pool[i % len(pool)]) for i in range(n)]
    matcher = get_matcher()
    judge_batch(items[:batch], matcher=matcher, model=model)  # warm the automaton and segmenter
    t0 = time.perf_counter()
    for i in range(0, n, batch):
        judge_batch(items[i:i + batch], matcher=matcher, model=model)
    judge_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for it in items:
        matcher.scan(matcher.prepare(it.channel, it.text))
    rules_s = time.perf_counter() - t0
    return {"judge_per_s": n / judge_s, "rules_per_s": n / rules_s, "load_s": load_s, "n": n}


def main(argv: list[str] | None = None) -> None:
    """Print the judge's throughput beside the rule pass alone, and the model load time."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--batch", type=int, default=512)
    args = ap.parse_args(argv)
    m = measure(args.n, args.batch)
    print(f"judge (normalise+match+model), batches of {args.batch}: {m['judge_per_s']:,.0f} texts/s")
    print(f"rule pass alone (normalise+match):            {m['rules_per_s']:,.0f} texts/s "
          f"(ratio {m['judge_per_s'] / m['rules_per_s']:.2f})")
    print(f"model load: {m['load_s'] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
