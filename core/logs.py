"""Logging with personal data scrubbed from every line, whatever the caller wrote."""

from __future__ import annotations

import logging

from core.pii import scrub_text


class PiiScrubFilter(logging.Filter):
    """Masks phone and ID numbers in the rendered message (and its args)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message with its scrubbed rendering (args folded in); keep every record."""
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not kill logging
            msg = str(record.msg)
        record.msg = scrub_text(msg)
        record.args = None
        return True


def install_pii_filter(logger: logging.Logger | None = None) -> None:
    """Attach the scrubber to a logger's handlers (root by default) and to the logger itself."""
    target = logger or logging.getLogger()
    flt = PiiScrubFilter()
    if not any(isinstance(f, PiiScrubFilter) for f in target.filters):
        target.addFilter(flt)
    for h in target.handlers:
        if not any(isinstance(f, PiiScrubFilter) for f in h.filters):
            h.addFilter(flt)


def setup_logging(level: str = "INFO") -> None:
    """Configure root logging for CLI use, with the PII scrubber on."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_pii_filter()


def get_logger(name: str) -> logging.Logger:
    """A module logger whose records are scrubbed even if handlers are added later."""
    log = logging.getLogger(name)
    if not any(isinstance(f, PiiScrubFilter) for f in log.filters):
        log.addFilter(PiiScrubFilter())
    return log
