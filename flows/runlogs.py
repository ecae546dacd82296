"""The hub's own log lines in Prefect's run logs (`prefect flow-run logs`, the UI), PII scrubbed.

Prefect ships only its own loggers (and `PREFECT_LOGGING_EXTRA_LOGGERS`) to the API. The
hub's packages log through `core.logs.get_logger`; this attaches Prefect's API handler to
their parent loggers at `HUB_LOG_LEVEL`, behind the PII scrubber, so a quarantine warning
or an ops ERROR appears in the run where it happened. Outside a run the handler stays
silent (CLI commands keep their stdout logging only).
"""

from __future__ import annotations

import logging
import sys

from prefect.exceptions import MissingContextError
from prefect.logging.handlers import APILogHandler

from core.logs import PiiScrubFilter
from core.settings import get_settings

#: the packages whose loggers reach the run logs
HUB_LOGGERS = ("hub", "connectors", "core", "flows")


class HubRunLogHandler(APILogHandler):
    """Prefect's API log handler that drops records logged outside a flow or task run, quietly."""

    def handleError(self, record: logging.LogRecord) -> None:
        """Ignore 'no run context' (a hub function called by the CLI); report anything else as Prefect does."""
        if isinstance(sys.exc_info()[1], MissingContextError):
            return
        super().handleError(record)


def install_run_logging(level: str | None = None) -> None:
    """Attach (once) the run-log handler to the hub's loggers; (re)apply `HUB_LOG_LEVEL` every call."""
    lvl = logging.getLevelName((level or get_settings().log_level).upper())
    if not isinstance(lvl, int):
        lvl = logging.INFO
    for name in HUB_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(lvl)
        handler = next((h for h in logger.handlers if isinstance(h, HubRunLogHandler)), None)
        if handler is None:
            handler = HubRunLogHandler()
            handler.addFilter(PiiScrubFilter())
            logger.addHandler(handler)
        handler.setLevel(lvl)
