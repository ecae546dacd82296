"""Every builtin transform, plus path getters and the named-transform registry."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from hub.mapping import TransformError, register
from hub.mapping.spec import PathError, compile_path, parse_path
from hub.mapping.transforms import NAMED, build_chain, build_transform


def t(spec):  # noqa: ANN001, ANN201
    return build_transform(spec)


@pytest.mark.parametrize("value, expected", [
    ("¥1,234.50元", Decimal("1234.50")), ("1234.5", Decimal("1234.50")), ("１２３４．５", Decimal("1234.50")),
    ("￥１，２３４．５０元", Decimal("1234.50")), ("300.00元", Decimal("300.00")), (" 88 ", Decimal("88.00")),
    (1234.5, Decimal("1234.50")), (12, Decimal("12.00")), ("1.2万", Decimal("12000.00")), ("", None), (None, None),
    ("人民币 5,000 元", Decimal("5000.00")),
])
def test_amount(value, expected):  # noqa: ANN001
    assert t("amount")(value) == expected


@pytest.mark.parametrize("value", ["abc", "12元3", "-5", "1e400", "NaN", True, "1.2.3"])
def test_amount_rejects(value):  # noqa: ANN001
    with pytest.raises(TransformError):
        t("amount")(value)


@pytest.mark.parametrize("value, expected", [
    ("138 1234 5678", "13812345678"), ("+86 138-1234-5678", "13812345678"), ("１３８１２３４５６７８", "13812345678"),
    ("008613812345678", "13812345678"), ("0571-88886666", "0571-88886666"), ("021 6888 1234", "021-68881234"),
    ("(010)12345678", "010-12345678"), ("4008205555", "4008205555"), ("95588", "95588"), ("", None),
])
def test_phone(value, expected):  # noqa: ANN001
    assert t("phone")(value) == expected


@pytest.mark.parametrize("value", ["1234", "23812345678", "phone", "138123456789999", ["13812345678"]])
def test_phone_rejects(value):  # noqa: ANN001
    with pytest.raises(TransformError):
        t("phone")(value)


def test_id_number():
    assert t("id_number")("33010219500101123x") == "33010219500101123X"
    assert t("id_number")("330102500101123") == "330102500101123"
    for bad in ("3301021950010112", "330102195013011234", "abcdefghijklmnopqr"):
        with pytest.raises(TransformError):
            t("id_number")(bad)


def test_datetime_zone_default_and_formats():
    f = t({"datetime": {"format": ["%Y-%m-%d %H:%M:%S", "iso"]}})
    assert f("2026-11-20 10:31:05") == datetime(2026, 11, 20, 2, 31, 5, tzinfo=UTC)  # Shanghai default
    assert f("2026-11-20T10:31:00+00:00") == datetime(2026, 11, 20, 10, 31, tzinfo=UTC)
    assert f("２０２６-11-20 10:31:05").hour == 2  # full-width digits
    assert f("") is None
    g = t({"datetime": {"format": "%Y-%m-%d %H:%M", "tz": "UTC"}})
    assert g("2026-11-20 10:31") == datetime(2026, 11, 20, 10, 31, tzinfo=UTC)
    assert t({"datetime": {"format": "epoch_ms"}})(1763605860000).year == 2025
    for bad in ("2026-13-45 25:61:00", "昨天下午", "1800-01-01 00:00:00", 5):
        with pytest.raises(TransformError):
            f(bad)
    with pytest.raises(ValueError):
        t({"datetime": {"tz": "Mars/Olympus"}})


def test_whitespace_folds_every_character_the_regex_fold_did():
    """`whitespace` splits on str.isspace(): exactly what `\\s+` folded, every code point checked."""
    import re
    import sys

    spaces = [c for c in map(chr, range(sys.maxunicode + 1)) if re.fullmatch(r"\s", c)]
    assert spaces == [c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()]
    fold = t("whitespace")
    for c in spaces:
        assert fold(f"{c}a{c}{c}中 b{c}") == "a 中 b", hex(ord(c))
    assert fold("") == "" and fold(" \u3000 ") == "" and fold(None) is None


def test_text_transforms():
    assert t("html")("<p>a&amp;b</p><script>x()</script><br>c") == "\na&b\n\nc"
    assert t("whitespace")("  a \n\t b\u3000c  ") == "a b c"
    assert t("strip")(" x ") == "x"
    assert t("lower")("AbC") == "abc" and t("upper")("abc") == "ABC"
    assert t("empty_null")("  ") is None and t("empty_null")([]) is None and t("empty_null")("x") == "x"
    assert t({"truncate": 3})("abcdef") == "abc"
    assert t("text")(12) == "12"
    with pytest.raises(TransformError):
        t("text")({"a": 1})


def test_value_map():
    strict = t({"map": {"values": {"10": "新建", "20": "处理中"}}})
    assert strict("10") == "新建" and strict(20) == "处理中"
    with pytest.raises(TransformError, match="unknown code"):
        strict("99")
    assert t({"map": {"values": {"a": 1}, "strict": False}})("zz") == "zz"
    assert t({"map": {"values": {"a": 1}, "default": 0}})("zz") == 0


def test_lists_and_numbers():
    assert t({"split": "[;；]"})("退款；道歉; 赔偿") == ["退款", "道歉", "赔偿"]
    assert t("split")(["a"]) == ["a"]
    assert t({"join": "/"})(["a", " b", None, ""]) == "a/b"
    assert t("list")("x") == ["x"]
    assert t({"each": ["strip", "upper"]})([" a", "b "]) == ["A", "B"]
    assert t({"records": {"fields": {"name": "name", "ref": "url"}}})([{"name": "n", "url": "u"}]) == [
        {"name": "n", "ref": "u"}]
    with pytest.raises(TransformError, match="missing ref"):
        t({"records": {"fields": {"name": "name", "ref": "url"}}})([{"name": "n"}])
    assert t("int")("４２") == 42 and t("bool")("是") is True and t({"gte": 1})(2) is True
    assert t({"gte": 1})(0) is False and t("first")([1, 2]) == 1 and t("last")([1, 2]) == 2
    assert t({"prefix": 3})("C0302") == "C03"
    with pytest.raises(TransformError):
        t("int")("x")


def test_named_transforms_and_errors():
    assert t({"call": "asr_clean"})("嗯，那个，就是我的卡被盗刷了……") == "我的卡被盗刷了。"
    assert t({"call": "progress_text"})([{"time": "t", "text": "审核通过"}]) == "审核通过"

    @register("test_double")
    def _double(times: int = 2):  # noqa: ANN202
        return lambda v: v * times

    try:
        assert t({"call": {"name": "test_double", "times": 3}})("ab") == "ababab"
    finally:
        NAMED.pop("test_double")
    for bad in ("nope", {"call": "nope"}, {"amount": {"bogus": 1}}, {"a": 1, "b": 2}, {"call": 5}):
        with pytest.raises(ValueError):
            t(bad)
    assert build_chain(["strip", "upper"])(" a ") == "A"


def test_paths():
    doc = {"user": {"mobile": "1"}, "items": [{"u": "a"}, {"u": "b"}, {}], "list": [1, 2, 3], "s": "x"}
    assert parse_path("a.b[0][*].c") == ["a", "b", 0, "*", "c"]
    assert compile_path("user.mobile")(doc) == "1"
    assert compile_path("items[*].u")(doc) == ["a", "b"]
    assert compile_path("list[-1]")(doc) == 3
    assert compile_path("list[9]")(doc) is None
    assert compile_path("nope.deeper")(doc) is None
    with pytest.raises(PathError):
        compile_path("s.x")(doc)
    with pytest.raises(PathError):
        compile_path("s[0]")(doc)
    for bad in ("", "a..b", "a[x]", " a"):
        with pytest.raises(ValueError):
            parse_path(bad)
