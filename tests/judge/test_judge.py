"""judge_text: negation, escalation, vulnerability, risk, SMS kinds, explanations; `hub classify`."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import pytest

from core.schema import EscalationTarget, MessageKind, RiskLevel, Urgency
from hub.judge import age_from_id, amount_in_text, get_matcher, judge_text


@pytest.mark.parametrize("text, targets", [
    ("我不会去起诉你们，只想退钱", []),
    ("暂时不打算找媒体，希望尽快处理年费", []),
    ("你们再不处理，我不排除起诉", [EscalationTarget.LAWSUIT]),
    ("不退年费我就去起诉", [EscalationTarget.LAWSUIT]),
    ("我不会善罢甘休，明天就去银保监投诉", [EscalationTarget.REGULATOR]),
    ("已经报警了，也找了记者", [EscalationTarget.POLICE, EscalationTarget.MEDIA]),
    ("订单号8812315001扣了年费", []),  # 12315 inside a number is not the hotline
])
def test_escalation_with_negation(text: str, targets: list[EscalationTarget]) -> None:
    r = judge_text("app", text)
    assert r.escalation_intent == targets
    if targets:  # a real threat makes the ticket urgent (非常紧急)
        assert r.urgency == Urgency.URGENT
    if "不会去起诉" in text:
        assert "否定表述不计" in r.explanations["escalation"].reason


def test_12315_named_on_its_own_channel_is_not_a_threat() -> None:
    text = "投诉人通过12315平台反映信用卡年费问题"
    assert not judge_text("gov12315", text).escalation
    assert judge_text("app", "不退年费就打12315").escalation


def test_vulnerable_from_id_number_and_text() -> None:
    assert age_from_id("330102195001011234") >= 75
    assert judge_text("callcenter", "年费扣错了", id_number="330102195001011234").vulnerable
    assert not judge_text("callcenter", "年费扣错了", id_number="330102199001011234").vulnerable
    r = judge_text("blackcat", "我妈的退休金卡被扣了管理费")
    assert r.vulnerable and "vulnerable" in r.tags and "我妈" in r.explanations["vulnerable"].matched


def test_risk_rises_with_money_escalation_and_repeats() -> None:
    base = judge_text("app", "信用卡年费扣错了")
    more = judge_text("app", "信用卡年费扣错了", amount="120000", repeat_count=3)
    assert more.risk_score > base.risk_score
    worst = judge_text("app", "我妈的卡被盗刷了20万元，已经报警，还要找媒体曝光", repeat_count=2, incident_size=30)
    assert worst.risk_level == RiskLevel.CRITICAL
    assert worst.amount == Decimal("200000")
    assert "升级意图" in worst.explanations["risk"].reason


def test_amount_in_text() -> None:
    assert amount_in_text("被骗了3万元，另外1,200元手续费") == Decimal("30000")
    assert amount_in_text("没有金额") is None


def test_sms_replies_are_not_complaints() -> None:
    assert judge_text("sms", "1").kind == MessageKind.SURVEY_REPLY
    assert judge_text("sms", "1").satisfied is True
    assert judge_text("sms", "不满意").satisfied is False
    assert judge_text("sms", "TD").kind == MessageKind.UNSUBSCRIBE
    # a grade with a remark is a reply (the remark reopens the ticket); a new matter is a complaint
    r = judge_text("sms", "不满意，卡被盗刷了还没人管")
    assert r.kind == MessageKind.SURVEY_REPLY and r.satisfied is False
    r = judge_text("sms", "我的卡昨晚被盗刷了两万，到现在还没人管，赶紧冻结")
    assert r.kind == MessageKind.COMPLAINT and r.urgency == Urgency.URGENT


def test_explanations_name_keywords_and_full_width_text_matches() -> None:
    r = judge_text("blackcat", "ＡＰＰ闪退，无法登录！")  # full-width Latin letters
    assert r.sub_category == "software"
    assert "闪退" in r.explanations["category"].matched
    assert r.fault == "无法登录" or r.fault == "闪退"


def test_automaton_is_built_once() -> None:
    assert get_matcher() is get_matcher()
    assert get_matcher().size > 300


def test_hub_classify_json_lines() -> None:
    lines = [{"channel": "sms", "text": "2"}, {"channel": "sms", "text": "退订"},
             {"channel": "callcenter", "text": "嗯，那个，就是我的卡被盗刷了，我不会去起诉的"},
             {"channel": "app", "text": "请问怎么开通手机银行指纹登录"}]
    proc = subprocess.run([sys.executable, "-c", "from cli import app; app()", "classify", "--json"],
                          input="\n".join(json.dumps(x, ensure_ascii=False) for x in lines),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [o["kind"] for o in out] == ["survey_reply", "unsubscribe", "complaint", "complaint"]
    assert out[0]["satisfied"] is False and "satisfied" not in out[2]
    assert out[2]["category"] == "info_security" and out[2]["urgency"] == "urgent" and out[2]["escalation"] is False
    assert out[3]["urgency"] == "consultation"
    assert set(out[2]) >= {"kind", "category", "sub_category", "urgency", "escalation", "risk_level"}


def test_pinyin_loads_only_the_character_dictionary() -> None:
    """A fresh worker importing the judge leaves pypinyin's ~43 MB phrase dictionary unloaded; repair still works."""
    code = ("import sys, hub.judge, pypinyin.constants as c\n"
            "from hub.judge.normalise import AsrRepair\n"
            "print(len(c.PHRASES_DICT), 'pypinyin.phrases_dict' in sys.modules, AsrRepair(['盗刷', '理财'])('卡被到刷了，里财说'))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0", "False", "卡被盗刷了，理财说"]
