"""`hub judge`: train the judgement model, measure it, and turn handlers' corrections into training data.

- `hub judge train` fits the model on the corpus's training split (plus exported corrections) and
  writes the versioned JSON artifact (`data/judge/model.json`, or `HUB_JUDGE_MODEL`);
- `hub judge eval [FILE…]` judges labelled records — by default the held-out split, which training
  never sees; given files, all their records — and prints accuracy per field, per channel, the
  confusion matrices, escalation precision and recall and survey accuracy. `--gate` exits 1 when a
  figure is below the thresholds `make test` holds the held-out split to;
- `hub judge export-corrections FILE` writes every reclassified ticket as a corpus record (PII scrubbed).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from cli.common import console, emit_json, err_console, operator_errors
from core.configfile import reload_config
from hub.judge.corpus import CorpusError, load_corpus, split
from hub.judge.evaluate import GATE, evaluate, gate_failures, render
from hub.judge.model import model_path
from hub.store import get_store

app = typer.Typer(help="Train, measure and correct the judgement model.", no_args_is_help=True)


@app.command("train")
@operator_errors
def train_cmd(
    out: Path = typer.Option(None, "--out", help="Where to write the artifact (default: the model in force)."),
    corpus: Path = typer.Option(None, "--corpus", help="Corpus directory (default data/judge/corpus)."),
    corrections: list[Path] = typer.Option(None, "--corrections",
                                           help="Exported corrections to train on too (repeatable)."),
) -> None:
    """Fit the model deterministically on the training split and write the artifact."""
    from hub.judge.train import train_to  # scikit-learn loads only for training

    target = out or model_path()
    started = time.perf_counter()
    try:
        doc = train_to(target, corpus, corrections or ())
    except CorpusError as exc:
        err_console.print(f"[bold red]error:[/] corpus: {exc}")
        raise typer.Exit(2) from exc
    reload_config()
    meta = doc["meta"]
    console.print(f"trained {doc['version']} on {meta['records']} records ({meta['features']} features, "
                  f"heads {', '.join(doc['heads'])}) in {time.perf_counter() - started:.1f}s → {target}")


@app.command("eval")
@operator_errors
def eval_cmd(
    files: list[Path] = typer.Argument(None, help="Labelled JSONL files (default: the corpus's held-out split)."),
    as_json: bool = typer.Option(False, "--json", help="The headline figures as JSON."),
    misses: int = typer.Option(0, "--misses", help="Also list up to N wrong judgements."),
    gate: bool = typer.Option(False, "--gate", help=f"Exit 1 when below the gate ({json.dumps(GATE)})."),
) -> None:
    """Judge labelled records and print how right the judgement is."""
    try:
        records = load_corpus(files) if files else split(load_corpus())[1]
    except CorpusError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    rep = evaluate(records)
    if as_json:
        emit_json(rep.as_dict())
    else:
        what = ", ".join(str(f) for f in files) if files else "the held-out split"
        # plain echo: the confusion matrices and the misses must not be re-wrapped to the terminal's width
        typer.echo(f"evaluated on {what}")
        typer.echo(render(rep))
        for line in rep.misses[:misses]:
            typer.echo(f"  miss {line}")
    failed = gate_failures(rep)
    if gate and failed:
        err_console.print("[bold red]below the gate:[/] " + "; ".join(failed))
        raise typer.Exit(1)


@app.command("export-corrections")
@operator_errors
def export_cmd(out: Path = typer.Argument(..., help="JSONL file to write (corpus format).")) -> None:
    """Write every ticket a handler reclassified as a training record (PII scrubbed)."""
    from hub.judge.corrections import export_corrections, write_records

    with get_store().begin() as conn:
        records, skipped = export_corrections(conn)
    write_records(records, out)
    note = f" ({skipped} skipped: source outside the corpus channels, no text or labels the guide forbids)" \
        if skipped else ""
    console.print(f"exported {len(records)} corrections → {out}{note}", highlight=False)

