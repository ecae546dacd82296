"""The chase and survey phases stop at their deadlines (config/recovery.yaml) and lose nothing.

A cycle's every phase has a deadline (issue 20: no silent hang); a phase cut short says
so on its stats and in the log, and the next run takes what it left.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from core.schema import utcnow
from hub.chase.reminders import chase
from hub.handling.replies import expire_surveys, process_replies
from hub.store.tables import raw_records
from tests.chase.test_chase import T0
from tests.chase.test_survey import _mo, _resolved
from tests.fixtures.hub_config import clear_config_caches
from tests.outbox.helpers import make_ticket, put_ticket


def _set_deadline(config: Path, phase: str, value: str) -> None:
    path = config / "recovery.yaml"
    text = path.read_text(encoding="utf-8")
    old = next(line for line in text.splitlines() if line.strip().startswith(f"{phase}:"))
    path.write_text(text.replace(old, f"  {phase}: {value}"), encoding="utf-8")
    clear_config_caches()


def test_chase_stops_at_its_deadline_and_the_next_run_goes_on(store, hub_config, caplog) -> None:  # noqa: ANN001
    for i in range(3):
        put_ticket(store, make_ticket(f"FB9{i}", received=T0))
    due = T0 + timedelta(hours=2, minutes=5)  # every first-response clock is at its first warning
    _set_deadline(hub_config, "chase", "0s")
    with caplog.at_level(logging.WARNING, logger="hub.chase.reminders"):
        cut = chase(store, now=due)
    assert cut.cut_short and cut.reminders == 0
    assert "deadlines.chase" in caplog.text
    _set_deadline(hub_config, "chase", "3m")
    done = chase(store, now=due)
    assert not done.cut_short and done.reminders == 3


def test_survey_pass_stops_at_its_deadline_and_keeps_the_replies(store) -> None:  # noqa: ANN001
    _resolved(store, "FB95")
    _mo(store, "MO95", "1", "survey_reply")
    cut = process_replies(store, deadline=time.monotonic())  # already due: nothing may be started
    assert cut.cut_short and cut.satisfied == 0
    with store.begin() as conn:
        assert conn.execute(select(raw_records.c.state).where(raw_records.c.external_id == "MO95")).scalar() \
            == "survey_reply"  # kept for the next pass
    assert process_replies(store).satisfied == 1


def test_survey_expiry_stops_at_its_deadline(store) -> None:  # noqa: ANN001
    from hub.handling.replies import SurveyStats

    _resolved(store, "FB96")
    later = utcnow() + timedelta(days=30)  # far past expire_after
    stats = SurveyStats()
    assert expire_surveys(store, now=later, deadline=time.monotonic(), stats=stats) == 0 and stats.cut_short
    assert expire_surveys(store, now=later) == 1
