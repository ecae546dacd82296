"""SMS intent detection and survey answers."""

from __future__ import annotations

import pytest

from core.schema import MessageKind
from hub.judge.intents import detect_sms_intent, survey_satisfied


@pytest.mark.parametrize("text", ["1", "2", " 1 ", "１", "满意", "不满意", "很满意", "非常不满意", "满意！", "1，谢谢",
                                  "2 还没处理", "一般", "好评😀"])
def test_survey_replies(text):  # noqa: ANN001
    assert detect_sms_intent(text) is MessageKind.SURVEY_REPLY


@pytest.mark.parametrize("text", ["T", "t", "TD", "td", "退订", "N", "退订。", "ＴＤ"])
def test_unsubscribes(text):  # noqa: ANN001
    assert detect_sms_intent(text) is MessageKind.UNSUBSCRIBE


@pytest.mark.parametrize("text", ["我的信用卡被盗刷了", "卡被盗刷了三天还没人管我要投诉到银保监会",
                                  "12345678", "TD是什么意思，为什么扣我钱", "", None])
def test_complaints(text):  # noqa: ANN001
    assert detect_sms_intent(text) is MessageKind.COMPLAINT


@pytest.mark.parametrize("text, expected", [
    ("1", True), ("满意", True), ("很满意", True), ("非常满意", True), ("2", False), ("不满意", False),
    ("非常不满意", False), ("2 还没处理", False), ("一般", None), ("T", None), ("", None), ("3", None),
])
def test_survey_satisfied(text, expected):  # noqa: ANN001
    assert survey_satisfied(text) is expected
