"""What an inbound SMS is — a complaint, a survey reply (回复1满意 2不满意 3一般) or an unsubscribe — and
how satisfied a survey reply is: satisfied, neutral or dissatisfied.

Only complaints become tickets. A reply is short, or starts with its answer ("2 钱还没退"); a
longer text that merely contains 不满意 is a complaint the hub must read, and so is a question
("请问车险可以提前续保吗") unless it is about the survey itself. Grading reads the whole reply, in
this order, the first that holds decides:

1. an unsubscribe in any phrasing (TD, 退订, 别再发了, 把我号码删了, 不用再回访了);
2. the answer digit (1 / 2 / 3, 一 / 二 / 三, "回复1", "1 1", "1111"), a digit in between ("1.5",
   "1和2之间": neutral), or the digit a correction settles on ("2不对 按错了 是1");
3. sarcasm and rhetorical questions about satisfaction (满意才怪, 满意你个头, 谁满意啊, 满意？呵呵);
4. neutral words and hedges (还行, 一般, 凑合, 说不上满意不满意, 算是解决了吧) and mixed answers (钱退了
   但是拖了一个月);
5. dissatisfied words (不满意, 差劲, 没解决, 问题依旧, 👎);
6. satisfied words (满意, 谢谢, 没毛病, 👍).
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from core.schema import MessageKind
from hub.judge.normalise import to_simplified


class Grade(StrEnum):
    """A survey reply's grade."""

    SATISFIED = "satisfied"
    NEUTRAL = "neutral"
    DISSATISFIED = "dissatisfied"


_TRIM = re.compile(r"[\s\u3000。．.!！~～,，、;；:：\"'“”‘’()（）\[\]【】<>《》…*·]+")
_EMOJI_GRADES = ((Grade.DISSATISFIED, "👎😡😠💢🤬💩😤😞😭🙄😒"), (Grade.NEUTRAL, "😐😑🤷🙂😶"),
                 (Grade.SATISFIED, "👍👌🙏😊😄😁❤💯🌹👏😀🥰☺"))
_EMOJI = re.compile(r"[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F\u200d]+")

UNSUBSCRIBE_EXACT = frozenset({"T", "TD", "N", "Q", "QX", "TD退订", "T退订", "退订", "退定", "取消", "取消订阅", "退订短信",
                               "拒收", "STOP", "UNSUBSCRIBE", "0000", "00000", "R", "BT", "回TD", "回复TD", "TD谢谢"})
_UNSUBSCRIBE = re.compile(
    r"^TD|退订|退定|拒收|(别|不要|不用|勿|停止|别再|不要再|请勿|请别|不想再?|不需要再?)(再)?(给我)?(发|推送|打扰|收到|接到|回访|联系)"
    r"|取消(短信|通知|订阅|推送|回访)|(关闭|停止)(短信|通知|推送)|停发|不再接收|免打扰|删(除|掉)?(了)?我的?(号码|手机号|电话)"
    r"|把我(的)?(号码|手机号|电话)(删|去掉)|(号码|手机号)(删|去)掉|别骚扰|不要骚扰")
_NOT_A_REQUEST = re.compile(r"业务|套餐|流量|会员|扣|费|还发|还在发|照发|成功|为啥|为什么|怎么|吗|[？?]")
# the answer as a digit: "1", "回复1", "我选1", "1 1", "1111", "一"
_ANSWER_ONLY = re.compile(r"^(?:嗯+|哦+|好的?|OK)?(?:回复|回|选|我选|就|选择|答)?([123一二三])(?:\1)*(?:吧|啦|了|呀|哦|的|分|号)?$")
_BETWEEN = re.compile(r"^[12](\.5|点五)$|[123一二三]\s*(和|到|与|跟|-|~)\s*[123一二三]\s*之间|之间吧?$|介于")
_CORRECTION = re.compile(r"(按错|打错|选错|发错|写错|错了)[^123]{0,8}(?:是|应该是|改成|改为|选)?([123])")
_LEADING = re.compile(r"^([123])(?!\d)")
_DIGIT_GRADE = {"1": Grade.SATISFIED, "一": Grade.SATISFIED, "2": Grade.DISSATISFIED, "二": Grade.DISSATISFIED,
                "3": Grade.NEUTRAL, "三": Grade.NEUTRAL}

_SARCASM = re.compile(r"满意(个|你个|才怪|啥|什么|吗|呢)|谁满意|怎么(可能|会)满意|能满意|还满意|满不满意|满意[？?]*呵呵"
                      r"|呵呵[？?]*满意|满意得很呢|真是太满意了呵")
_NEUTRAL = re.compile(
    r"不算满意也不算不满意|说不上(满意)?(不满意)?|谈不上|不好不坏|不好说|不好评价|不知道|没感觉|没啥(好说|感觉)"
    r"|一般般?|还行|还好|还成|还中|还凑合|凑合|凑活|将就|马马虎虎|平平|普普通通|中规中矩|中等|差不多|过得去|能接受|还能接受"
    r"|就这样|就那样|就那么回事|看情况|再说|等我看看|观察|半满意|还算|还可以|行吧|好吧|算是.{0,6}吧|勉强|中评|无所谓|一半"
    r"|SO-?SO|MEH|OK吧|凑乎")
# solved, but (the first clause good, the rest a grumble): neutral
_MIXED = re.compile(r"(解决了|退了|到账了|处理了|弄好了|好了|办好了|可以了|满意)[^但]{0,6}(但|不过|就是|只是|可是)")
_DISSATISFIED = re.compile(
    r"不满|不太满意|不怎么满意|不是很满意|差评|差劲|差勁|很差|太差|^差$|烂|垃圾|没解决|未解决|没有解决|不解决|问题依旧|照旧"
    r"|老样子|还是不行|还没(处理|解决|退|到|好)|没(退|处理|人联系|联系|回复)|根本没|一点(用)?(也|都)?没(用|有)|没用|不好"
    r"|失望|敷衍|无语|不行|糟糕|坑|退钱|投诉|浪费时间|不咋(地|样)|不怎么样|什么都没|啥都没|BAD|POOR")
_SATISFIED = re.compile(
    r"不是不满意|没有不满意|满意|好评|谢谢|谢了|感谢|多谢|挺好|很好|不错|没毛病|解决了|已解决|已处理|处理好了|点赞|给力|赞"
    r"|好的|可以|OK|^行$|行了|收到|辛苦|^棒|真棒|GOOD|GREAT|THANK|NICE|^好$|^好+$")
_ABOUT_SURVEY = re.compile(r"满意|评价|回访")
_DOUBLE_NEGATIVE = re.compile(r"不是不满意|没有不满意|并非不满意|没什么不满意|没啥不满意|没有什么不满意")
# a reply that opens with its grade word: that word decides ("满意，就是等得久了点")
_OPENING = re.compile(r"^(非常|很|特别|挺|比较|不太|不是很|不怎么)?(不满意|满意|一般|还行|差评|好评|不满|谢谢|感谢|多谢)")
_OPENING_GRADE = {"不满意": Grade.DISSATISFIED, "不满": Grade.DISSATISFIED, "差评": Grade.DISSATISFIED,
                  "满意": Grade.SATISFIED, "好评": Grade.SATISFIED, "一般": Grade.NEUTRAL, "还行": Grade.NEUTRAL,
                  "谢谢": Grade.SATISFIED, "感谢": Grade.SATISFIED, "多谢": Grade.SATISFIED}
_WEAKENERS = ("不太", "不是很", "不怎么")
# the handling itself, which a reply may name around its grade ("这次处理得挺及时的 满意")
_REFERENTS = re.compile(r"这次|这回|处理|解决|服务|态度|客服|结果|速度|过程|效率|及时|得|挺|比较|都|钱|已经|回来|退回")
_FILLER = re.compile(r"[吧呢啊呀了的嗯哦啦呵就也还很非常太真是个我你们这么快]")
_GRADE_PATTERNS: tuple[tuple[re.Pattern[str], Grade], ...] = ()  # filled below, in reading order


def _norm(text: str) -> str:
    s = to_simplified(unicodedata.normalize("NFKC", text or "")).replace("瞒意", "满意").replace("满億", "满意")
    s = s.replace("满亿", "满意")
    return _TRIM.sub("", _EMOJI.sub("", s)).upper()


def _emoji_grade(text: str) -> Grade | None:
    for grade, marks in _EMOJI_GRADES:
        if any(m in text for m in marks):
            return grade
    return None


def _digit_grade(s: str, spaced: str) -> Grade | None:
    """The grade an answer digit gives, or None when the reply has no answer digit of its own."""
    if m := _CORRECTION.search(s):
        return _DIGIT_GRADE[m.group(2)]
    if _BETWEEN.search(s):
        return Grade.NEUTRAL
    if m := _ANSWER_ONLY.match(s):
        return _DIGIT_GRADE[m.group(1)]
    digits = set(re.sub(r"\s+", "", spaced))
    if len(digits) == 1 and digits <= set("123"):  # "2 2 2"
        return _DIGIT_GRADE[digits.pop()]
    if m := _LEADING.match(s):
        rest = s[1:]
        if m.group(1) == "1" and rest and _DISSATISFIED.search(rest) and not _SATISFIED.match(rest):
            return Grade.DISSATISFIED  # "1 还是没解决" contradicts itself: the words win
        return _DIGIT_GRADE[m.group(1)]
    return None


_GRADE_PATTERNS = ((_DOUBLE_NEGATIVE, Grade.SATISFIED), (_SARCASM, Grade.DISSATISFIED), (_MIXED, Grade.NEUTRAL),
                   (_NEUTRAL, Grade.NEUTRAL), (_DISSATISFIED, Grade.DISSATISFIED), (_SATISFIED, Grade.SATISFIED))


def grade_reply(text: str | None) -> Grade | None:
    """How satisfied a survey reply is (None when it says nothing either way); see the module doc."""
    raw = unicodedata.normalize("NFKC", text or "").strip()
    s = _norm(raw)
    if not s:
        return _emoji_grade(raw)
    if _BETWEEN.search(raw):
        return Grade.NEUTRAL
    if (g := _digit_grade(s, raw)) is not None:
        return g
    if _SARCASM.search(s):
        return Grade.DISSATISFIED
    if not _DOUBLE_NEGATIVE.match(s) and (m := _OPENING.match(s)):
        grade = _OPENING_GRADE[m.group(2)]
        return Grade.DISSATISFIED if m.group(1) in _WEAKENERS and grade is Grade.SATISFIED else grade
    for pattern, grade in _GRADE_PATTERNS:
        if pattern.search(s):
            return grade
    return _emoji_grade(raw)


def _is_bare_answer(s: str) -> bool:
    """Is the reply (normalised) little more than its grade words? "车厘子到手一半是烂的" is not."""
    rest = s
    for pattern, _ in _GRADE_PATTERNS:
        rest = pattern.sub("", rest)
    return len(_FILLER.sub("", _REFERENTS.sub("", rest))) <= 3


def is_unsubscribe(text: str | None) -> bool:
    """Whether an SMS asks the hub to stop texting (TD, 退订, 别再发了, 把我号码删了, 不用再回访了…)."""
    s = _norm(text or "")
    if not s:
        return False
    if s in UNSUBSCRIBE_EXACT:
        return True
    # "退订增值业务为啥要去营业厅", "退订了还发" are complaints about unsubscribing, not requests
    return len(s) <= 18 and bool(_UNSUBSCRIBE.search(s)) and not _NOT_A_REQUEST.search(s)


def detect_sms_intent(text: str | None) -> MessageKind:
    """Classify one inbound SMS text: unsubscribe, survey reply, or (default) complaint."""
    s = _norm(text or "")
    if not s and not _emoji_grade(text or ""):
        return MessageKind.COMPLAINT  # an empty message is kept and quarantined by the mapping
    if is_unsubscribe(text):
        return MessageKind.UNSUBSCRIBE
    if grade_reply(text) is None:
        return MessageKind.COMPLAINT
    # A reply starts with its answer (a digit or its grade word), or is little more than its grade;
    # anything else is a complaint to read — a question too, unless it is about the survey itself.
    if (_LEADING.match(s) and len(s) <= 60) or _BETWEEN.search(text or "") or _ANSWER_ONLY.match(s):
        return MessageKind.SURVEY_REPLY
    if _OPENING.match(s) and len(s) <= 40:
        return MessageKind.SURVEY_REPLY
    question = any(q in (text or "") for q in ("？", "?", "吗", "请问"))
    if question and not _ABOUT_SURVEY.search(s):
        return MessageKind.COMPLAINT  # "请问车险可以提前续保吗" asks something: a person answers it
    if (_SARCASM.search(s) and len(s) <= 24) or (_MIXED.search(s) and len(s) <= 16):
        return MessageKind.SURVEY_REPLY
    return MessageKind.SURVEY_REPLY if len(s) <= 20 and _is_bare_answer(s) else MessageKind.COMPLAINT


def survey_satisfied(text: str | None) -> bool | None:
    """True for a satisfied answer, False for dissatisfied, None when neutral or unclear."""
    grade = grade_reply(text)
    return None if grade in (None, Grade.NEUTRAL) else grade is Grade.SATISFIED
