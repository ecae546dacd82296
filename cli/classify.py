"""`hub classify`: try the taxonomy and judgement rules on texts before deploying them.

Reads JSON lines `{"channel": ..., "text": ...}` on stdin (optional `amount`,
`id_number`), writes one JSON line per input: kind, category, sub_category,
urgency, escalation, risk_level (and `satisfied` for SMS survey replies).
Without `--json` it prints a table instead.
"""

from __future__ import annotations

import json
import sys

import typer
from rich.table import Table

from cli.common import console, err_console, operator_errors
from core.pii import scrub_text
from hub.judge import judge_text


@operator_errors
def classify_cmd(
    as_json: bool = typer.Option(False, "--json", help="One JSON line per input line on stdout."),
    explain: bool = typer.Option(False, "--explain", help="Add the reasons and matched keywords."),
) -> None:
    """Classify JSON lines {"channel": ..., "text": ...} read from stdin."""
    table = None if as_json else Table(title="classification")
    if table is not None:
        for col in ("channel", "text", "kind", "category", "urgency", "esc", "risk"):
            table.add_column(col)
    bad = 0
    for n, line in enumerate(sys.stdin, 1):
        line = line.strip()
        if not line:
            continue
        try:
            doc = json.loads(line)
            channel, text = str(doc.get("channel") or "app"), str(doc.get("text") or "")
        except (json.JSONDecodeError, AttributeError) as exc:
            bad += 1
            err_console.print(f"line {n}: not a JSON object ({exc})")
            continue
        res = judge_text(channel, text, amount=doc.get("amount"), id_number=doc.get("id_number"))
        out = res.to_json()
        if explain:
            out["explanations"] = {k: e.model_dump(exclude_none=True) for k, e in res.explanations.items()}
        if table is None:
            sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        else:
            cat = f"{out['category'] or '-'}/{out['sub_category'] or '-'}"
            table.add_row(channel, scrub_text(text)[:24], out["kind"], cat, out["urgency"],
                          "yes" if out["escalation"] else "-", out["risk_level"])
    if table is not None:
        console.print(table)
    if bad:
        raise typer.Exit(1)
