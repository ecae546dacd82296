"""Shared Playwright layer of the portal connectors (gov12315, blackcat, and any new portal source).

Usage (flows, `hub pull`, benches)::

    from connectors.portal import PortalRuntime
    from connectors.registry import make_connector

    async with PortalRuntime(settings) as rt:                 # ONE Chromium for the run
        conn = make_connector("gov12315", portal_runtime=rt)   # a context per source, created lazily
        print(await conn.check())
        async for page in conn.pull(cursor):                  # Page(records, cursor, stats)
            land(page.records, page.cursor)
        receipt = await conn.push(update)
        await conn.aclose()                                   # closes the connector's tab only

A portal connector is built from its `SourceConfig` (kind `portal`): credentials
from `credentials:` (`username`, `password`, references like `env:NAME|default`),
the browser side from the typed `portal:` section (selectors, paths, parallelism,
waits, `code_provider`), retries from `retry:`. `PortalRuntime(settings=None, *,
browser=None, tracing=True)` launches Chromium from `settings.chromium_path` (or uses
an injected `browser`, which it then does not close). Saved sessions:
`<HUB_HOME>/portal-sessions/<source>.json` (0600); failure evidence:
`<HUB_HOME>/portal-failures/*.png|*.trace.zip`.

Pieces: `runtime` (browser/contexts/sessions/traces), `state` (0600 storage_state
files), `codes` (SMS `CodeProvider`s), `options` (SourceConfig → PortalOptions),
`scrape` (selector access, PortalChangedError), `pool` (N parallel detail tabs),
`watermark` (incremental cursor), `base` (PortalConnector: navigation under the
retry layer, re-login, the pull loop).
"""

from connectors.portal.codes import CodeProvider, CodeRequest, make_code_provider
from connectors.portal.options import PortalOptions
from connectors.portal.runtime import PortalRuntime

__all__ = ["CodeProvider", "CodeRequest", "PortalOptions", "PortalRuntime", "make_code_provider"]
