"""One root exception whose subclasses carry their retry meaning.

| class              | meaning                         | what the hub does                         |
|--------------------|---------------------------------|-------------------------------------------|
| TransientError     | timeout, 5xx, 429, dropped link | retry with backoff (connector layer)      |
| AuthError          | credentials refused / expired   | fail the run now, tell the operator       |
| ConfigError        | bad config, missing secret      | fail the run now, tell the operator       |
| SourceDataError    | one record cannot be understood | quarantine that record, carry on          |
| PortalChangedError | a selector found nothing        | screenshot + trace, fail, tell operator   |
"""

from __future__ import annotations

from pathlib import Path


class HubError(Exception):
    """Root of every hub error. `retryable` says whether trying again may help."""

    retryable: bool = False
    #: short operator-facing hint printed by the CLI and flows
    hint: str = ""

    def __init__(self, message: str, *, source: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.source = source
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        prefix = f"[{self.source}] " if self.source else ""
        return f"{prefix}{base}" + (f" — {self.hint}" if self.hint else "")


class TransientError(HubError):
    """Temporary failure (network, 5xx, 429): retry with backoff."""

    retryable = True

    def __init__(self, message: str, *, source: str | None = None, retry_after: float | None = None,
                 hint: str | None = None):
        super().__init__(message, source=source, hint=hint)
        self.retry_after = retry_after


class AuthError(HubError):
    """Credentials refused or session cannot be re-established: fail now."""

    hint = "check the source's credentials in config/sources.yaml and the environment"


class ConfigError(HubError):
    """Configuration is wrong or incomplete: fail now and say what to fix."""


class SourceDataError(HubError):
    """One record cannot be mapped: quarantine it (field path + reason), never drop it."""

    def __init__(self, message: str, *, field: str | None = None, source: str | None = None):
        super().__init__(message, source=source)
        self.field = field


class PortalChangedError(HubError):
    """A portal's markup no longer matches the configured selectors."""

    hint = "the portal's page changed: compare the screenshot with config/sources.yaml selectors"

    def __init__(self, message: str, *, source: str | None = None, selector: str | None = None,
                 screenshot: Path | None = None, trace: Path | None = None):
        super().__init__(message, source=source)
        self.selector = selector
        self.screenshot = screenshot
        self.trace = trace

    def __str__(self) -> str:
        extra = []
        if self.selector:
            extra.append(f"selector={self.selector!r}")
        if self.screenshot:
            extra.append(f"screenshot={self.screenshot}")
        if self.trace:
            extra.append(f"trace={self.trace}")
        return super().__str__() + (f" ({', '.join(extra)})" if extra else "")


class CalendarError(ConfigError):
    """The business calendar does not cover a year the SLA needs."""
