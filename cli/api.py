"""`hub api …`: serve the API/console and manage team tokens (`hub api token …`, in `cli.tokens`)."""

from __future__ import annotations

import typer

from cli import tokens as _tokens
from cli.common import console, operator_errors
from hub.secret_check import require_safe_secrets

app = typer.Typer(help="Back-office API and web console.", no_args_is_help=True)
app.add_typer(_tokens.app, name="token")


@app.command("serve")
@operator_errors
def serve_cmd(host: str = typer.Option("127.0.0.1", help="Address to bind (loopback by default)."),
              port: int = typer.Option(8300, help="Port.")) -> None:
    """Serve the API (/api/v1, /openapi.json), the console (/console/) and team callbacks."""
    from web.app import create_app
    from web.server import serve

    require_safe_secrets("hub api serve")
    console.print(f"serving on http://{host}:{port}/console/ (API spec: /openapi.json)")
    serve(create_app(), host=host, port=port)
