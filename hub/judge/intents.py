"""What an inbound SMS is: a complaint, a survey reply (回复1满意 2不满意) or an unsubscribe.

Only complaints become tickets. Replies are short by nature, so the rules look
at the whole (normalised) message, never at words inside a longer text: "不满意，
卡被盗刷了还没人管" is a complaint, "不满意" alone is a survey answer.
"""

from __future__ import annotations

import re
import unicodedata

from core.schema import MessageKind

_TRIM = re.compile(r"[\s\u3000。．.!！~～,，、;；:：\"'“”‘’()（）\[\]【】<>《》]+")
_EMOJI = re.compile(r"[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F]+")

UNSUBSCRIBE = frozenset({"T", "TD", "N", "Q", "QX", "TD退订", "T退订", "退订", "退定", "取消", "取消订阅",
                         "退订短信", "拒收", "不要再发", "别再发了", "STOP", "UNSUBSCRIBE", "0000", "00000"})
SATISFIED = frozenset({"1", "满意", "很满意", "非常满意", "十分满意", "基本满意", "比较满意", "还算满意",
                       "挺满意", "满意的", "满意了", "好评", "好", "好的", "可以", "1满意", "满意1", "Y", "YES",
                       "已解决", "解决了"})
DISSATISFIED = frozenset({"2", "不满意", "很不满意", "非常不满意", "十分不满意", "不太满意", "不怎么满意",
                          "差评", "不好", "很差", "太差了", "没解决", "未解决", "2不满意", "不满意2", "NO"})
NEUTRAL = frozenset({"3", "一般", "还行", "凑合", "一般般", "3一般"})
# "1，谢谢" / "2 还没处理" style answers: a leading digit then a short comment
_DIGIT_REPLY = re.compile(r"^([123])(?:[^0-9].{0,10})?$")


def _norm(text: str) -> str:
    s = unicodedata.normalize("NFKC", text or "")
    s = _EMOJI.sub("", s)
    return _TRIM.sub("", s).upper()


def detect_sms_intent(text: str | None) -> MessageKind:
    """Classify one inbound SMS text: unsubscribe, survey reply, or (default) complaint."""
    s = _norm(text or "")
    if not s:
        return MessageKind.COMPLAINT  # an empty message is kept and quarantined by the mapping
    if s in UNSUBSCRIBE or (len(s) <= 6 and s.startswith("退订")):
        return MessageKind.UNSUBSCRIBE
    if s in SATISFIED or s in DISSATISFIED or s in NEUTRAL or _DIGIT_REPLY.match(s):
        return MessageKind.SURVEY_REPLY
    return MessageKind.COMPLAINT


def survey_satisfied(text: str | None) -> bool | None:
    """True for a satisfied answer, False for dissatisfied, None when neutral or unclear."""
    s = _norm(text or "")
    if not s:
        return None
    if s in DISSATISFIED:
        return False
    if s in SATISFIED:
        return True
    if m := _DIGIT_REPLY.match(s):
        return {"1": True, "2": False}.get(m.group(1))
    if "不满意" in s or "差评" in s:
        return False
    if "满意" in s and len(s) <= 8:
        return True
    return None
