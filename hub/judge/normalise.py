"""Text normalisation before any matching, one small step each.

`normalise(text)` = NFKC (full-width → half-width) → traditional → simplified (OpenCC) →
variant spellings (`taxonomy.yaml` `variants`) → lower case. `repair_asr(text, terms)` fixes
call-centre speech recognition: a span with the same pinyin as a critical term but other
characters ("到刷" for 盗刷) becomes the term. `amounts(text)` reads money in Arabic, Chinese and
mixed numerals (3万, 五万, 两千多, 1.2万元, 三千五百块) as `Decimal` CNY.
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation

import cn2an
import opencc

# pypinyin reads these when first imported: its phrase dictionary (and a copy of each dictionary) is
# ~43 MB of every worker's memory, and only single characters are ever converted here (`_syllable`),
# whose readings come from the character dictionary alone (the same for all of U+4E00..U+9FFF)
os.environ.setdefault("PYPINYIN_NO_PHRASES", "1")
os.environ.setdefault("PYPINYIN_NO_DICT_COPY", "1")
from pypinyin import Style, lazy_pinyin  # noqa: E402 - after the settings above

_T2S = opencc.OpenCC("t2s")


def nfkc(text: str) -> str:
    """Unicode NFKC: full-width letters, digits and punctuation become their ASCII forms."""
    return unicodedata.normalize("NFKC", text)


def to_simplified(text: str) -> str:
    """Traditional Chinese → simplified (OpenCC `t2s`); simplified text is returned as it is."""
    return _T2S.convert(text)


class Variants:
    """Replaces variant spellings with the form the phrases use, longest first, in one pass."""

    def __init__(self, table: Mapping[str, str]):
        pairs = {k: v for k, v in table.items() if k and k != v}
        self.table = pairs
        self._re = re.compile("|".join(re.escape(k) for k in sorted(pairs, key=len, reverse=True))) if pairs else None

    def __call__(self, text: str) -> str:
        """`text` with every variant replaced."""
        if self._re is None:
            return text
        return self._re.sub(lambda m: self.table[m.group(0)], text)


def normalise(text: str, variants: Variants | None = None) -> str:
    """The form every rule and the model read: NFKC, simplified, variants replaced, lower case."""
    s = to_simplified(nfkc(text or ""))
    if variants is not None:
        s = variants(s)
    return s.lower()


@functools.lru_cache(maxsize=20000)
def _syllable(ch: str) -> str:
    """The toneless pinyin of one character ("" for anything that is not a Han character)."""
    if not ("\u4e00" <= ch <= "\u9fff"):
        return ""
    return lazy_pinyin(ch, style=Style.NORMAL)[0]


class AsrRepair:
    """Repairs speech-recognition homophones of critical terms (call-centre transcripts)."""

    def __init__(self, terms: Iterable[str]):
        self.terms: dict[tuple[str, ...], str] = {}
        for term in terms:
            key = tuple(_syllable(c) for c in term)
            if all(key):
                self.terms[key] = term
        self.lengths = sorted({len(k) for k in self.terms}, reverse=True)
        self.first = {k[0] for k in self.terms}

    def __call__(self, text: str) -> str:
        """`text` with every homophone span of a term replaced by the term."""
        if not self.terms:
            return text
        sy = [_syllable(c) for c in text]
        out: list[str] = []
        i = 0
        while i < len(text):
            if sy[i] in self.first:
                for n in self.lengths:
                    key = tuple(sy[i:i + n])
                    term = self.terms.get(key) if len(key) == n else None
                    if term is not None:
                        out.append(term)
                        i += n
                        break
                else:
                    out.append(text[i])
                    i += 1
                continue
            out.append(text[i])
            i += 1
        return "".join(out)


_CN_DIGITS = "零〇一二两三四五六七八九十百千万亿壹贰叁肆伍陆柒捌玖拾佰仟"
_MONEY = re.compile(r"((?:\d+(?:,\d{3})*(?:\.\d+)?|[" + _CN_DIGITS + r"点]+)"
                    r"(?:\s*[万千百](?![元块]?[" + _CN_DIGITS + r"\d]))?)\s*(多|余|几)?\s*(?:万\s*)?(元|块|rmb|cny|人民币)")
_UNIT = {"万": Decimal(10000), "千": Decimal(1000), "百": Decimal(100)}


def _number(token: str) -> Decimal | None:
    token = token.replace(",", "").strip()
    unit = Decimal(1)
    if token and token[-1] in _UNIT and any(c.isdigit() for c in token[:-1]):
        unit, token = _UNIT[token[-1]], token[:-1]
    try:
        if re.fullmatch(r"\d+(?:\.\d+)?", token):
            return Decimal(token) * unit
        value = cn2an.cn2an(token.replace("两", "二"), "smart")
        return Decimal(str(value)) * unit
    except (ValueError, InvalidOperation, KeyError, TypeError):
        return None


def amounts(text: str) -> list[Decimal]:
    """Every CNY amount written in `text` (normalised or not), in order: "3万元" → 30000."""
    out = []
    for m in _MONEY.finditer(text):
        num = m.group(1)
        whole = m.group(0)
        value = _number(num)
        if value is None:
            continue
        if "万" in whole[len(num):] and not num.endswith("万"):
            value *= 10000  # "3.5 万元": the unit after the number
        out.append(value)
    return out


def largest_amount(text: str) -> Decimal | None:
    """The largest CNY amount in `text`, if any."""
    found = amounts(text)
    return max(found) if found else None
