"""Record ids that look like phone numbers are shown as ids (黑猫 sn), while phones around them stay masked."""

from __future__ import annotations

from core.logs import get_logger
from core.pii import scrub_text


def test_blackcat_ids_are_ids_and_phones_are_still_masked(caplog) -> None:  # noqa: ANN001
    import connectors.blackcat  # noqa: F401 - the connector declares that its ids look like phones

    line = "quarantined blackcat:17310000123 phone: 17310000123 app:17310000123 call 13812345678"
    assert scrub_text(line) == ("quarantined blackcat:17310000123 phone: 173****0123 app:173****0123 "
                                "call 138****5678")
    get_logger("hub.test").warning(line)
    assert "blackcat:17310000123" in caplog.text
    assert "13812345678" not in caplog.text
