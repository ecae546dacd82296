"""`hub doctor`'s checks below the flows layer: is this installation fit to run unattended?

Each check returns `Finding`s: `error` (the hub cannot do its job safely: exit non-zero),
`warn` (it works, but an operator must act soon) or `ok`. Every problem is one line that
says what to do. Prefect's API is checked by the CLI (Prefect stays above `hub`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from core.errors import ConfigError
from core.secrets import env_references as walk_env_references
from core.secrets import resolve_plain
from core.security_settings import sandbox_mode
from core.settings import get_settings

if TYPE_CHECKING:
    from hub.store.db import Store

Level = Literal["ok", "warn", "error"]
HOLIDAY_HORIZON = timedelta(days=90)


@dataclass(frozen=True)
class Finding:
    """One line of the doctor's report."""

    check: str
    level: Level
    text: str

    def line(self) -> str:
        """`LEVEL check: text`, as printed."""
        return f"{self.level.upper():5} {self.check}: {self.text}"


def check_store() -> Iterator[Finding]:
    """The store answers and carries every migration."""
    from hub.store.db import Store
    from hub.store.migrate import missing_heads

    url = get_settings().db_url
    store = Store(url)
    shown = store.engine.url.render_as_string(hide_password=True)
    try:
        missing = missing_heads(store.engine)
    except Exception as exc:  # noqa: BLE001 - any driver error means: not reachable
        yield Finding("store", "error", f"cannot reach {shown} ({type(exc).__name__}); check HUB_DATABASE_URL "
                                        "and that the database server is up")
        return
    finally:
        store.dispose()
    if missing:
        yield Finding("store", "error", f"{shown} is not migrated (missing {', '.join(sorted(missing))}); "
                                        "run `hub db upgrade`")
        return
    yield Finding("store", "ok", f"{shown} reachable, migrated")
    yield from check_handler_load(store)


def check_handler_load(store: Store) -> Iterator[Finding]:
    """The open-ticket counts least_loaded routing reads match the tickets (a full count, once)."""
    from hub.store.handler_load import drift

    try:
        with store.begin() as conn:
            off = drift(conn)
    finally:
        store.dispose()
    if off:
        (team, handler), (kept, real) = sorted(off.items())[0]
        yield Finding("handler load", "warn", f"{len(off)} handler(s) with a wrong open-ticket count (e.g. "
                                              f"{team}/{handler}: {kept} kept, {real} open), so least_loaded "
                                              "routing is uneven; run `hub db recount-load`")
    else:
        yield Finding("handler load", "ok", "open-ticket counts per handler match the tickets")


def env_references(config_dir: Path) -> list[tuple[str, str, str | None]]:
    """Every `env:` reference of the operator config files: (file, variable, published default or None).

    The walk is `core.secrets.env_references` (the one `hub.secret_check` uses too); the doctor
    judges every reference, not only those under secret-named keys.
    """
    return [(r.file, r.name, r.default) for r in walk_env_references(config_dir)]


def check_secrets(*, sandbox: bool | None = None) -> Iterator[Finding]:
    """No reference resolves to a published demo default, none that needs a value is unset; a PII key is set.

    A reference with an empty default (`env:NAME|`) is optional (an unset team webhook means
    the team works from its queue) and is not a problem here; ops destinations are checked apart.
    """
    sandbox = sandbox_mode() if sandbox is None else sandbox
    if sandbox:
        yield Finding("secrets", "ok", "sandbox mode (HUB_SANDBOX): demo credentials allowed")
        return
    bad = 0
    seen: set[str] = set()
    try:
        refs = env_references(get_settings().config_dir)
    except ConfigError as exc:  # an unreadable file: say which, judge nothing else of it
        yield Finding("secrets", "error", f"{exc}; fix the file")
        return
    for file, name, default in refs:
        if name in seen or default == "":
            continue
        seen.add(name)
        value = os.environ.get(name)
        if not value:
            bad += 1
            what = "uses the published demo default" if default else "is unset"
            yield Finding("secrets", "error", f"{name} ({file}) {what}; set {name} in the workers' environment")
        elif default is not None and value == default:
            bad += 1
            yield Finding("secrets", "error", f"{name} ({file}) is set to the published demo default; "
                                              f"set the real value")
    if not get_settings().pii_key:
        bad += 1
        yield Finding("secrets", "error", "HUB_PII_KEY is unset (a key file under HUB_HOME would be generated "
                                          "per machine); set the same key on every worker from your secret store")
    if not bad:
        yield Finding("secrets", "ok", f"{len(seen)} references set, none a published default")


def check_ops_destination() -> Iterator[Finding]:
    """At least one ops destination resolves to a URL, so failure alerts arrive."""
    from hub.chase.config import get_chase_config

    dests = get_chase_config().outbox.ops_destinations
    usable = [d for d in dests if d.type == "queue" or resolve_plain(d.url)]
    if usable:
        yield Finding("ops", "ok", f"{len(usable)} ops destination(s): {', '.join(d.type for d in usable)}")
    else:
        yield Finding("ops", "error", "no ops destination: failure alerts would be undeliverable; set "
                                      "HUB_OPS_WEBHOOK or add an apprise URL to config/chase.yaml "
                                      "outbox.ops_destinations")


def check_chromium() -> Iterator[Finding]:
    """The browser for the portal sources exists (only when a portal source is enabled)."""
    from connectors.registry import is_portal, source_keys

    portals = [s for s in source_keys() if is_portal(s)]
    if not portals:
        yield Finding("chromium", "ok", "no portal source enabled")
        return
    path = get_settings().chromium_path
    if path.is_file() and os.access(path, os.X_OK):
        yield Finding("chromium", "ok", f"{path} (for {', '.join(portals)})")
    else:
        yield Finding("chromium", "error", f"{path} missing: the portals {', '.join(portals)} cannot be scraped; "
                                           "`apt-get install chromium` or set HUB_CHROMIUM_PATH")


def check_holidays(today: date | None = None) -> Iterator[Finding]:
    """Holiday data (调休 included) covers the next 90 days."""
    from hub.sla.calendar import get_calendar

    today = today or date.today()
    cal = get_calendar()
    years = sorted({today.year, (today + HOLIDAY_HORIZON).year})
    missing = [y for y in years if not cal.covers(y)]
    if missing:
        for y in missing:
            yield Finding("holidays", "warn", f"no holiday data for {y} (needed within 90 days): SLA deadlines "
                                              f"would count Mon–Fri; copy the State Council's {y} arrangement "
                                              f"(holidays and 调休 workdays) into config/calendar.yaml years: {y}")
    else:
        yield Finding("holidays", "ok", f"covered through {today + HOLIDAY_HORIZON}")


CHECKS: tuple[Callable[[], Iterator[Finding]], ...] = (
    check_store, check_secrets, check_ops_destination, check_chromium, check_holidays)


def run_checks(extra: tuple[Callable[[], Iterator[Finding]], ...] = ()) -> list[Finding]:
    """Every check in order (a check that crashes becomes an error line, never a traceback)."""
    out: list[Finding] = []
    for check in (*CHECKS, *extra):
        try:
            out.extend(check())
        except Exception as exc:  # noqa: BLE001 - the doctor reports, it does not fall over
            name = check.__name__.removeprefix("check_")
            out.append(Finding(name, "error", f"check failed: {type(exc).__name__}: {exc}"))
    return out
