"""Routing rules: ordered, first match wins; every condition kind; config checks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.errors import ConfigError
from core.schema import Category, Customer, EscalationTarget, Matter, RiskLevel, Source, Ticket, Urgency
from hub.routing import RoutingConfig, get_routing
from hub.sla import get_sla
from hub.teams import get_teams

CFG = RoutingConfig.model_validate({"rules": [
    {"id": "big-money", "when": {"amount_min": 100000, "category": "product"}, "team": "wealth", "sla": "banking"},
    {"id": "zhejiang-elderly", "when": {"region": ["浙江省"], "segment": "elderly"}, "team": "service",
     "priority": 3},
    {"id": "threat", "when": {"escalation": True, "risk": [RiskLevel.HIGH.value, "critical"]}, "team": "regulatory"},
    {"id": "tagged", "when": {"tags": ["fault:闪退"], "source": ["app", "blackcat"]}, "team": "digital"},
    {"id": "small-fees", "when": {"sub_category": "fees", "amount_max": 500, "urgency": "general"}, "team": "cards"},
    {"id": "default", "team": "service"},
]})


def _t(**kw) -> Ticket:  # noqa: ANN003
    t = Ticket(ticket_id="T1", source=Source(kw.pop("source", "app")), external_id="1",
               received_at="2026-11-23T10:00:00+08:00",
               customer=Customer(region=kw.pop("region", None)),
               matter=Matter(amount=Decimal(kw.pop("amount")) if "amount" in kw else None))
    j = t.judgement
    j.category, j.sub_category = Category(kw.pop("category", "product")), kw.pop("sub", "fees")
    j.urgency = Urgency(kw.pop("urgency", "general"))
    j.risk_level = RiskLevel(kw.pop("risk", "low"))
    j.escalation_intent = kw.pop("esc", [])
    j.tags = kw.pop("tags", [])
    assert not kw
    return t


@pytest.mark.parametrize("ticket, segments, rule", [
    (_t(amount="150000"), set(), "big-money"),
    (_t(amount="150000", category="service", sub="attitude"), set(), "default"),
    (_t(region="浙江省杭州市西湖区"), {"elderly"}, "zhejiang-elderly"),
    (_t(region="江苏省南京市", sub="cards"), {"elderly"}, "default"),
    (_t(esc=[EscalationTarget.MEDIA], risk="high"), set(), "threat"),
    (_t(esc=[EscalationTarget.MEDIA], risk="low", amount="100"), set(), "small-fees"),
    (_t(tags=["fault:闪退"], source="blackcat"), set(), "tagged"),
    (_t(tags=["fault:闪退"], source="sms"), set(), "default"),
    (_t(amount="499.99"), set(), "small-fees"),
    (_t(amount="500.01"), set(), "default"),
    (_t(amount="300", urgency="urgent"), set(), "default"),
])
def test_first_matching_rule_wins(ticket: Ticket, segments: set[str], rule: str) -> None:
    assert CFG.match(ticket, segments).id == rule


def test_shipped_config_is_consistent() -> None:
    cfg = get_routing()
    cfg.check(set(get_teams().teams), set(get_sla().policies))
    assert not cfg.rules[-1].when.model_dump(exclude_none=True)  # the last rule is the catch-all


def test_config_errors_name_the_problem() -> None:
    bad = RoutingConfig.model_validate({"rules": [{"id": "x", "team": "nobody"}]})
    with pytest.raises(ConfigError, match="unknown team 'nobody'"):
        bad.check({"cards"}, set())
    bad = RoutingConfig.model_validate({"rules": [{"id": "x", "team": "cards", "sla": "fast"}]})
    with pytest.raises(ConfigError, match="unknown SLA policy 'fast'"):
        bad.check({"cards"}, {"general"})
    no_default = RoutingConfig.model_validate({"rules": [{"id": "x", "when": {"source": "sms"}, "team": "cards"}]})
    with pytest.raises(ConfigError, match="default rule"):
        no_default.match(_t(), set())
