"""One root exception; every class declares what the hub does about it.

`HubError.retryable` is the one spelling of retry meaning: the connector layer's
retry policy (`connectors.retry`) retries exactly the retryable errors, the outbox
worker backs a row off on a retryable error and marks it dead on any other.

| class              | is a           | retryable | what the hub does                                            | raised by                  |
|--------------------|----------------|-----------|--------------------------------------------------------------|----------------------------|
| HubError           | Exception      | no        | fail the run, tell the operator                              | (the root)                 |
| TransientError     | HubError       | yes       | retried with backoff in the connector layer (Retry-After     | HTTP layer, portal         |
|                    |                |           | honoured); then the run fails / the outbox row backs off     | navigation and forms       |
| AuthError          | HubError       | no        | fail the run now, tell the operator (credentials)            | auth hooks, portal login   |
| SessionExpired     | AuthError      | no        | inside the portal layer: log in again, then retry the page   | connectors.portal.base     |
| ConfigError        | HubError       | no        | fail now, say what to fix                                    | config loaders, HTTP 3xx/4xx |
| InsecureSecret     | ConfigError    | no        | refuse to start: a secret is missing or a published default  | core.secrets               |
| CalendarError      | ConfigError    | no        | fail now: the calendar does not cover a year the SLA needs   | hub.sla.calendar           |
| MappingFileError   | ConfigError    | no        | fail now: a mapping file is invalid (file, field)            | hub.mapping.loader         |
| Undeliverable      | ConfigError    | no        | the outbox row is `undeliverable` (no destination), ERROR log| hub.outbox.dispatch        |
| RecordRejected     | HubError       | no        | quarantine that one record (field, reason), carry on         | hub.mapping                |
| TransformError     | RecordRejected | no        | quarantine: a value a transform cannot understand            | hub.mapping.transforms     |
| PathError          | TransformError | no        | quarantine: the payload's shape does not fit a mapping path  | hub.mapping.spec           |
| SourceAnswerError  | HubError       | no        | the source's answer is unusable: the run fails, source named;| connectors (pull, check,   |
|                    |                |           | pages landed before it stay landed                           | the look before a push)    |
| PushRefused        | HubError       | no        | the source refused this update: the outbox row is dead       | connectors (push)          |
| PortalChangedError | HubError       | no        | screenshot + trace saved, the run fails, the operator is told| connectors.portal          |
| PullFailed         | HubError       | no        | a pull stopped: carries its partial report and the cause     | hub.pipeline.pull          |
| SourcesFailed      | HubError       | no        | a multi-source run ends failed after the others finished     | hub.pipeline.sync          |
| SyncDeadline       | HubError       | no        | a source's pull passed its deadline: reported failed, the    | hub.pipeline.sync          |
|                    |                |           | next run resumes from the cursor                             |                            |
| SyncBusy           | HubError       | no        | another sync held the source's store lease past the wait:    | hub.store.sync_lease       |
|                    |                |           | reported failed for this source, the next run tries again    |                            |
| StoreUnavailable   | HubError       | no        | the store cannot take writes (disk full, database down): the | hub.store.faults           |
|                    |                |           | run fails with the cause named; ops alert goes direct        |                            |
| HandlingError      | HubError       | no        | a handling action cannot apply: HTTP 409 / CLI exit 2        | hub.handling               |
| InvalidCorrection  | HandlingError  | no        | a reclassification names an unknown value: HTTP 422 (field)  | hub.handling.reclassify    |
| ReplyRequired      | HandlingError  | no        | the customer would see this change: a reply is needed (422)  | hub.handling.customer_text |
| NotFound           | HubError       | no        | the caller may not see it or it does not exist: HTTP 404     | hub.backoffice             |
| ActionError        | HubError       | no        | a back-office action refused (403/404/409/422, field named)  | hub.backoffice.commands    |
| LoginRequired      | HubError       | no        | the console sends the browser to its sign-in page            | web.console                |

`tests/core/test_errors.py` walks the tree and holds this table to the classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from collections.abc import Sequence


class HubError(Exception):
    """Root of every hub error. `retryable` says whether trying again may help."""

    retryable: ClassVar[bool] = False
    #: short operator-facing hint printed by the CLI and flows
    hint: str = ""

    def __init__(self, message: str, *, source: str | None = None, hint: str | None = None,
                 status_code: int | None = None):
        super().__init__(message)
        self.source = source
        #: the HTTP status the source answered with, when the error comes from an answer
        self.status_code = status_code
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        """The message without the source prefix and the hint."""
        return str(self.args[0]) if self.args else ""

    def __reduce__(self) -> tuple[object, ...]:
        # Subclasses take other constructor arguments than `args`: rebuild from the state instead,
        # so an error survives pickling (Prefect keeps a failed run's exception).
        return (_rebuild, (type(self), self.args, self.__dict__))

    def __str__(self) -> str:
        prefix = f"[{self.source}] " if self.source else ""
        return f"{prefix}{self.message}" + (f" — {self.hint}" if self.hint else "")


def _rebuild(cls: type[HubError], args: tuple[object, ...], state: dict[str, object]) -> HubError:
    err = Exception.__new__(cls)
    err.args = args
    err.__dict__.update(state)
    return err


class TransientError(HubError):
    """Temporary failure (network, 5xx, 429): retry with backoff."""

    retryable = True

    def __init__(self, message: str, *, source: str | None = None, retry_after: float | None = None,
                 hint: str | None = None, status_code: int | None = None, outcome_unknown: bool = False):
        super().__init__(message, source=source, hint=hint, status_code=status_code)
        #: seconds the source asked us to wait (Retry-After), if it said
        self.retry_after = retry_after
        #: the request may have been processed (a timeout after sending, a 5xx): never re-send a
        #: non-idempotent request blindly; look first
        self.outcome_unknown = outcome_unknown


class AuthError(HubError):
    """Credentials refused or session cannot be re-established: fail now."""

    hint = "check the source's credentials in config/sources.yaml and the environment"


class ConfigError(HubError):
    """Configuration is wrong or incomplete: fail now and say what to fix."""


class InsecureSecret(ConfigError):
    """A secret outside the sandbox mode is missing or equals the published demo default: `variable` names it."""

    def __init__(self, variable: str, message: str):
        super().__init__(message, hint=f"set {variable} to a value from your secret store (see README 'Secrets')")
        self.variable = variable


class CalendarError(ConfigError):
    """The business calendar does not cover a year the SLA needs."""


class MappingFileError(ConfigError):
    """A mapping file is invalid: `file` and `field` say where."""

    def __init__(self, file: Path | str, field: str, message: str):
        super().__init__(f"{file}: {field}: {message}",
                         hint="fix the mapping file, then `hub mappings check` and `hub quarantine replay`")
        self.file = str(file)
        self.field = field


class Undeliverable(ConfigError):
    """A message has nowhere to go (e.g. no ops destination configured): never recorded as sent."""


class RecordRejected(HubError):
    """One record cannot be mapped: quarantine it (field path + reason), never drop it."""

    def __init__(self, message: str, *, field: str | None = None, source: str | None = None):
        super().__init__(message, source=source)
        self.field = field


class SourceAnswerError(HubError):
    """The source answered in a way the hub cannot use (shape, business error code, unknown record)."""


class PushRefused(HubError):
    """The source refused this update for good (unknown record, validation, a state it cannot leave)."""

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None,
                 status_code: int | None = None):
        super().__init__(message, source=source, status_code=status_code)
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


class SourcesFailed(HubError):
    """Raised at the end of a run in which some sources failed (after the others finished)."""

    def __init__(self, message: str, *, failed: Sequence[str] = (), total: int = 0,
                 rows: Sequence[dict[str, str | int]] = ()):
        super().__init__(message)
        #: the source keys that failed
        self.failed = list(failed)
        #: how many sources the run had (all failed, or some: the CLI's exit code tells them apart)
        self.total = total or len(self.failed)
        #: every source's counts as table rows (`SourceResult.row()`), kept for the failed run's summary
        self.rows = [dict(r) for r in rows]

    @property
    def partly(self) -> bool:
        """Some sources failed, not all."""
        return 0 < len(self.failed) < self.total


class SyncDeadline(HubError):
    """A source's pull ran past its deadline (config/recovery.yaml): it is reported failed, its cursor kept."""


class SyncBusy(HubError):
    """Another sync of the source held its store lease for longer than this one would wait (hub.store.sync_lease)."""


class StoreUnavailable(HubError):
    """The store cannot take the run's writes (disk full, database unreachable); the message names which."""


class HandlingError(HubError):
    """A handling action that cannot apply (unknown ticket, impossible transition, nothing to approve)."""


class InvalidCorrection(HandlingError):
    """A reclassification names a business line or sub-category the taxonomy does not know."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        #: the corrected field at fault
        self.field = field


class ReplyRequired(HandlingError):
    """A status change the source shows to the customer has no reply (and no template): the note is never sent."""

    field = "reply"


class NotFound(HubError):
    """The ticket does not exist or the caller may not see it (answered 404, never 403)."""


class ActionError(HubError):
    """A back-office action refused: `status` 403 (role), 404 (not this team's), 409 (state), 422 (input)."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        #: the body field at fault (422)
        self.field = field


class LoginRequired(HubError):
    """A console page needs a signed-in user; answered with a redirect to the sign-in page."""

    def __init__(self, message: str = "sign-in required"):
        super().__init__(message)
