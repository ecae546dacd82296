"""`hub mappings …`: validate the mapping files."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cli.common import console, emit_json, operator_errors
from connectors.registry import source_keys
from core.schema import Source
from hub.mapping import load_mappings
from hub.mapping.spec import TARGETS

app = typer.Typer(help="Source mappings (mappings/<source>.yaml).", no_args_is_help=True)


@app.command("check")
@operator_errors
def check_cmd(
    directory: Path = typer.Option(None, "--dir", help="Mappings folder (default HUB_MAPPINGS_DIR / mappings/)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Validate every mapping file (errors name the file and field); print each source's version."""
    ms = load_mappings(directory, require_all=True)
    rows = [{"source": s, "version": ms.version(s) or "", "file": ms.mappings[Source(s)].path,
             "fields": len(ms.mappings[Source(s)].spec.fields)} for s in source_keys()]
    if as_json:
        emit_json(rows)
        return
    table = Table(title="mappings: all valid")
    for col in ("source", "version", "fields", "file"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["source"]), str(r["version"]), str(r["fields"]), str(r["file"]))
    console.print(table)


@app.command("targets")
def targets_cmd() -> None:
    """List the ticket fields a mapping may fill."""
    for k, v in TARGETS.items():
        console.print(f"{k:28} {v}")
