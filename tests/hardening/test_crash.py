"""Crash safety: sync and push SIGKILLed at random points, rerun, and nothing is lost or done twice.

Each iteration: the sandbox clock moves (new complaints, source-side updates), a few
tickets are resolved (push-backs and surveys queued), then a worker process — either
`hub pull SOURCE` or a full pull+normalise+route+drain pass
(`tests/hardening/crash_worker.py`) — is killed with SIGKILL at a random moment, a
clean rerun follows, and the invariants are checked: every sandbox complaint landed,
no raw record left un-normalised, no duplicate ticket, and the sandbox recorded no
effect twice (per idempotency key, SMS out_id, call-centre status, app reply).
The short run (≥ 20 kills) is in the normal suite; `--run-slow` adds ≥ 200.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hardening.crash_support import crash_loop


@pytest.fixture
def crash_env(sandbox_factory, tmp_path: Path):  # noqa: ANN001, ANN201
    from hub.store.db import Store

    # latency stretches each request so kills land mid-pull and mid-drain, not only at start-up
    sb = sandbox_factory(seed=9, backlog=40, rate=40, survey_reply_prob=0.5,
                         faults={"*": {"latency_ms": 15, "malformed_rate": 0.03}})
    store = Store(f"sqlite:///{tmp_path / 'hub.db'}")
    store.upgrade()
    yield sb, store
    store.dispose()


def _run(crash_env, tmp_path: Path, kills: int, seed: int, per_rerun: int, max_delay: float) -> None:  # noqa: ANN001
    sb, store = crash_env
    rep = crash_loop(sb, store, tmp_path, kills=kills, seed=seed, kills_per_rerun=per_rerun,
                     max_delay=max_delay)
    print("\ncrash loop:", rep.line())
    assert not rep.problems, "\n".join(rep.problems[:30])
    assert rep.kills >= kills and rep.resolved > 0
    pushed = [w for w in sb.writes() if w["kind"] != "send"]
    assert pushed, "the loop should have pushed status updates to the sandbox"


@pytest.mark.timeout(600)
def test_crash_short(crash_env, tmp_path: Path) -> None:  # noqa: ANN001
    _run(crash_env, tmp_path, kills=20, seed=1, per_rerun=4, max_delay=1.0)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_crash_long(crash_env, tmp_path: Path) -> None:  # noqa: ANN001
    _run(crash_env, tmp_path, kills=200, seed=2, per_rerun=2, max_delay=1.5)
