"""Shared Playwright layer of the portal connectors (gov12315, blackcat).

Usage (flows, `hub pull`, benches)::

    from connectors.portal import PortalRuntime
    from connectors.gov12315 import Gov12315Connector

    async with PortalRuntime(settings) as rt:            # ONE Chromium for the run
        conn = Gov12315Connector(cfg, runtime=rt)        # a context per source, created lazily
        print(await conn.check())
        async for page in conn.pull(cursor):             # Page(records, cursor, stats)
            land(page.records, page.cursor)
        receipt = await conn.push(update)
        await conn.aclose()                              # closes the connector's tab only

Constructor of both portal connectors (what `connectors.registry.make_connector`
calls with `portal_runtime=rt`)::

    Gov12315Connector(cfg=None, *, runtime: PortalRuntime | None = None,
                      code_provider: CodeProvider | str | None = None,
                      base_url: str | None = None, ledger=None,
                      close_runtime: bool | None = None, **overrides)
    BlackcatConnector(...same...)

  (`runtime=None`: the connector starts a runtime of its own and closes it in
  `aclose()`; `ledger` is accepted and unused — the portal page itself shows
  whether an update was applied; `overrides` are PortalOptions fields, e.g.
  `parallel_pages=1`.)

- `cfg`: the source's `SourceConfig` (connectors.config) or a plain dict of the
  same shape, or a `PortalOptions`. Credentials are read from `credentials:`
  (`username`/`account`, `password`, references like `env:NAME|default`),
  selectors from `selectors:`, URL paths from `paths:`, tuning keys
  (`parallel_pages`, `overlap_minutes`, `code_provider`, ...) from the top level
  or `options:`. Unset selectors/paths fall back to the connector's defaults.
- `PortalRuntime(settings=None, *, browser=None, tracing=True)`: launches
  Chromium from `settings.chromium_path` (or uses an injected `browser`, which
  it then does not close). Saved sessions: `<HUB_HOME>/portal-sessions/<source>.json`
  (0600); failure evidence: `<HUB_HOME>/portal-failures/*.png|*.trace.zip`.

Pieces: `runtime` (browser/contexts/sessions/traces), `state` (0600 storage_state
files), `codes` (SMS `CodeProvider`s), `options` (config → PortalOptions),
`scrape` (selector access, PortalChangedError), `pool` (N parallel detail tabs),
`watermark` (incremental cursor), `base` (PortalConnector: navigation retries,
re-login, the pull loop).
"""

from connectors.portal.codes import CodeProvider, CodeRequest, make_code_provider
from connectors.portal.options import PortalOptions, build_options
from connectors.portal.runtime import PortalRuntime

__all__ = ["CodeProvider", "CodeRequest", "PortalOptions", "PortalRuntime", "build_options", "make_code_provider"]
