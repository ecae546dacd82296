"""The one retry layer of the connectors: what an answer means, and how often to try again.

Everything a connector sends goes through here: HTTP requests (`connectors.http`),
portal navigation and form posts (`connectors.portal`), and every push. Connector
code never loops on retries itself.

ONE table says what a response status or a transport failure means for the hub.
`error.retryable` (the class's declared property, see `core.errors`) says whether
trying again may help; `outcome_unknown` says whether the source may have acted on
the request already, in which case a non-idempotent request is never re-sent
blindly: the push helper (`converge`) looks at the source first.

| status / failure                            | hub error          | outcome unknown | why                                  |
|---------------------------------------------|--------------------|-----------------|--------------------------------------|
| connect error, connect/pool timeout         | TransientError     | no              | the request never reached the source |
| read/write timeout, dropped connection      | TransientError     | yes             | maybe processed                      |
| 408 Request Timeout                         | TransientError     | yes             | maybe processed                      |
| 429 Too Many Requests, 503 Unavailable      | TransientError     | no              | refused, not processed; Retry-After  |
| 500, 502, 504, other 5xx                    | TransientError     | yes             | maybe processed                      |
| 401 Unauthorized                            | AuthError          | no              | one re-authentication, then fail     |
| 403 Forbidden                               | AuthError          | no              | credentials lack the right           |
| 404, 409, 410, 422                          | PushRefused on a   | no              | the record is unknown, gone or in a  |
|                                             | write; SourceAnswer|                 | state that refuses the request       |
|                                             | Error on a read    |                 |                                      |
| other 4xx (400, 405, 415, ...)              | ConfigError        | no              | our request is wrong: fix config     |
| 3xx (redirects are not followed)            | ConfigError        | no              | base URL or login moved: fix config  |
| unusable URL / scheme                       | ConfigError        | no              | base URL is wrong                    |

Retries are bounded twice, by attempts and by total time (tenacity's
`stop_after_attempt | stop_before_delay`: a wait that would overrun the budget is
not slept, the last error is raised at once). Waits are jittered exponential
backoff, or the source's `Retry-After` (seconds or an HTTP date), capped.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    stop_before_delay,
)
from tenacity.retry import retry_base

from core.errors import AuthError, ConfigError, HubError, PushRefused, SourceAnswerError, TransientError
from core.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Rule:
    """One row of the table: the error a status or failure becomes."""

    error: type[HubError]
    outcome_unknown: bool
    why: str
    #: the class for a read (GET/HEAD) when it differs: a read cannot be "refused" like a write
    read_error: type[HubError] | None = None

    def error_for(self, *, read: bool) -> type[HubError]:
        """The error class for this request."""
        return self.read_error if read and self.read_error is not None else self.error


_NOT_PROCESSED = Rule(TransientError, False, "not processed by the source")
_MAYBE_PROCESSED = Rule(TransientError, True, "outcome unknown")

STATUS_POLICY: dict[int, Rule] = {
    408: _MAYBE_PROCESSED,
    429: _NOT_PROCESSED,
    503: _NOT_PROCESSED,
    401: Rule(AuthError, False, "credentials refused"),
    403: Rule(AuthError, False, "credentials lack the right"),
    404: Rule(PushRefused, False, "unknown at the source", SourceAnswerError),
    409: Rule(PushRefused, False, "conflicts with the record's state at the source", SourceAnswerError),
    410: Rule(PushRefused, False, "gone at the source", SourceAnswerError),
    422: Rule(PushRefused, False, "refused by the source's validation", SourceAnswerError),
}
DEFAULT_5XX = _MAYBE_PROCESSED
DEFAULT_4XX = Rule(ConfigError, False, "request refused: check the source configuration")
REDIRECT = Rule(ConfigError, False, "unexpected redirect: check base_url")
#: transport failures, by where they happened (the HTTP layer and the portal layer map theirs onto these)
NEVER_SENT = _NOT_PROCESSED
LOST_ANSWER = _MAYBE_PROCESSED
BAD_URL = Rule(ConfigError, False, "base URL is invalid or has no usable scheme")


def rule_for_status(status: int) -> Rule | None:
    """The policy row for an HTTP status (None = success)."""
    if status < 300:
        return None
    if status < 400:
        return REDIRECT
    if status in STATUS_POLICY:
        return STATUS_POLICY[status]
    return DEFAULT_5XX if status >= 500 else DEFAULT_4XX


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now_ts = now if now is not None else datetime.now(UTC).timestamp()
    return max(0.0, when.timestamp() - now_ts)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the retry loop: attempts AND total time; jittered exponential backoff."""

    attempts: int = 5
    total_seconds: float = 60.0
    backoff_initial: float = 0.5
    backoff_max: float = 20.0
    retry_after_max: float = 60.0  # never sleep longer than this even if the source asks

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt `attempt + 1`: the source's Retry-After (capped), else jitter.

        "Equal jitter": uniform in [cap/2, cap], cap = min(max, initial * 2^(attempt-1)). It grows, yet
        spreads the retries of many clients (and parallel tabs) so they do not hit a recovering
        source in lockstep.
        """
        if retry_after is not None:
            return min(retry_after, self.retry_after_max)
        cap = min(self.backoff_max, self.backoff_initial * 2 ** max(0, attempt - 1))
        return random.uniform(cap / 2, cap)


def is_retryable(exc: BaseException) -> bool:
    """Whether the hub's error table says trying again may help."""
    return isinstance(exc, HubError) and exc.retryable


def _wait_for(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if exc is None:
            return 0.0  # a step that made progress (see `converge`): look again at once
        retry_after = exc.retry_after if isinstance(exc, TransientError) else None
        return policy.backoff(state.attempt_number, retry_after)
    return wait


async def retrying(op: Callable[[], Awaitable[T]], *, policy: RetryPolicy, what: str, source: str,
                   retry_on: Callable[[BaseException], bool] = is_retryable,
                   sleep: Callable[[float], Awaitable[None]] | None = None) -> T:
    """`await op()`, trying again on the errors `retry_on` accepts, within the policy's bounds.

    The error raised when the bounds are reached is the last one, its message saying how
    many attempts were made over how long. `sleep` replaces `asyncio.sleep` (the HTTP layer
    counts its waits).
    """
    started = time.monotonic()
    retryer = _retryer(policy, what, source, retry_if_exception(retry_on), sleep)
    try:
        return await retryer(op)
    except TransientError as err:
        _note_attempts(err, retryer, started)
        raise


async def converge(step: Callable[[], Awaitable[T | None]], *, policy: RetryPolicy, what: str, source: str,
                        max_steps: int = 3) -> T:
    """Apply an update to a source at most once: look, write, look again.

    `step()` reads the target's state first and returns the receipt when the update is
    already there; otherwise it performs one write and returns its receipt, or None
    when another step must follow (look again at once: e.g. a reply, then 申请完成).
    A write whose outcome is unknown raises a retryable error: the next step, after
    the policy's backoff, starts by looking, so the write is never repeated blindly.
    Bounded by the policy's attempts plus `max_steps` progress steps, and its total time.
    """
    started = time.monotonic()
    limits = RetryPolicy(attempts=policy.attempts + max_steps, total_seconds=policy.total_seconds,
                         backoff_initial=policy.backoff_initial, backoff_max=policy.backoff_max,
                         retry_after_max=policy.retry_after_max)
    retryer = _retryer(limits, what, source, retry_if_exception(is_retryable) | retry_if_result(lambda r: r is None),
                       None)
    try:
        result: T | None = await retryer(step)
    except TransientError as err:
        _note_attempts(err, retryer, started)
        raise
    except RetryError:  # the steps never converged: an unconfirmed write
        result = None
    if result is None:
        raise TransientError(f"{what}: not confirmed after {retryer.statistics.get('attempt_number', 1)} steps",
                             source=source, outcome_unknown=True)
    return result


def _retryer(policy: RetryPolicy, what: str, source: str, retry: retry_base,
             sleep: Callable[[float], Awaitable[None]] | None) -> AsyncRetrying:
    def log_retry(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        if exc is not None:
            log.warning("%s: attempt %d failed, retrying in %.2fs (%s): %s", source, state.attempt_number,
                        state.next_action.sleep if state.next_action else 0.0, what, exc)

    return AsyncRetrying(retry=retry, stop=stop_after_attempt(policy.attempts) | stop_before_delay(policy.total_seconds),
                         wait=_wait_for(policy), before_sleep=log_retry, reraise=True, sleep=sleep or asyncio.sleep)


def _note_attempts(err: TransientError, retryer: AsyncRetrying, started: float) -> None:
    attempts = retryer.statistics.get("attempt_number", 1)
    if attempts > 1 and "gave up after" not in err.message:
        err.args = (f"{err.message} (gave up after {attempts} attempts in {time.monotonic() - started:.1f}s)",)
