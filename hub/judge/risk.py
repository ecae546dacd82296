"""Risk score (0–100) and level from severity, money, escalation, vulnerability, repeats, incident size."""

from __future__ import annotations

from decimal import Decimal

from core.schema import RiskLevel
from hub.judge.config import RiskWeights


def risk_score(weights: RiskWeights, *, severity: int, amount: Decimal | float | None, escalations: int,
               vulnerable: bool, repeat_count: int, incident_size: int, urgent: bool) -> tuple[float, list[str]]:
    """The score and its parts (for the explanation, in Chinese), e.g. ["严重度5×8", "金额¥12,000 +10"]."""
    parts: list[str] = []
    score = severity * weights.severity_weight
    parts.append(f"严重度{severity}×{weights.severity_weight:g}")
    if amount is not None:
        money = 0.0
        for threshold, points in weights.money:
            if float(amount) >= threshold:
                money = points
        if money:
            score += money
            parts.append(f"金额¥{float(amount):,.0f} +{money:g}")
    if escalations:
        esc = weights.escalation + weights.escalation_extra * (escalations - 1)
        score += esc
        parts.append(f"升级意图 +{esc:g}")
    if vulnerable:
        score += weights.vulnerable
        parts.append(f"弱势客户 +{weights.vulnerable:g}")
    if repeat_count:
        rep = min(weights.repeat_max, weights.repeat_each * repeat_count)
        score += rep
        parts.append(f"重复投诉{repeat_count}次 +{rep:g}")
    if incident_size > 1:
        inc = min(weights.incident_max, weights.incident_each * incident_size)
        score += inc
        parts.append(f"群体事件{incident_size}件 +{inc:g}")
    if urgent:
        score += weights.urgent
        parts.append(f"紧急 +{weights.urgent:g}")
    return min(100.0, score), parts


def risk_level(weights: RiskWeights, score: float) -> RiskLevel:
    """Map a score onto low / medium / high / critical with the configured thresholds."""
    lv = weights.levels
    if score >= lv.get("critical", 75):
        return RiskLevel.CRITICAL
    if score >= lv.get("high", 50):
        return RiskLevel.HIGH
    if score >= lv.get("medium", 25):
        return RiskLevel.MEDIUM
    return RiskLevel.LOW
