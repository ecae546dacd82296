"""Value transforms used by mappings: dates, amounts, phones, text, codes, lists.

Each builtin is a *factory*: it takes the arguments written in the YAML file and
returns a one-argument function, so arguments (formats, zones, value maps,
compiled regexes) are prepared once at load time and never per record.
A transform raises `TransformError` for a value it cannot understand; the
engine turns that into a quarantine reason naming the field.

`register("name")` adds a named Python transform (the escape hatch for an odd
field); mappings call it with `{call: name}` or `{call: {name: ..., <args>}}`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import RecordRejected

Fn = Callable[[Any], Any]
Factory = Callable[..., Fn]


class TransformError(RecordRejected):
    """A value the transform cannot understand (becomes a quarantine reason)."""


def _short(value: Any) -> str:
    # Reasons are shown to operators: keep them short; PII is scrubbed by the caller.
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- text ---------------------------------------------------------------------------

_FULLWIDTH = str.maketrans({chr(0xFF10 + i): str(i) for i in range(10)} | {"．": ".", "，": ",", "－": "-",
                                                                           "＋": "+", "　": " "})
_TAG = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->|<[^>]{0,2000}>", re.S | re.I)
_BLOCK_TAG = re.compile(r"<\s*(br|/p|/div|/li|/tr|p|div|li)\b[^>]*>", re.I)


def halfwidth(value: str) -> str:
    """Full-width digits and punctuation used in numbers → ASCII (cheap, no NFKC)."""
    # isascii() is O(1) on CPython: most values (dates, phones) need no translation at all
    return value if value.isascii() else value.translate(_FULLWIDTH)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        # no value in the message: a nested object may hold names the scrubber cannot see
        raise TransformError(f"expected text, got {type(value).__name__}")
    return str(value)


def t_text() -> Fn:
    """Any scalar → str (None stays None); lists/dicts are an error."""
    return lambda v: None if v is None else _as_text(v)


def t_strip() -> Fn:
    """Any scalar → str without surrounding whitespace (None stays None)."""
    return lambda v: None if v is None else _as_text(v).strip()


def t_whitespace() -> Fn:
    """Fold runs of whitespace (incl. full-width spaces, newlines) into one space."""
    # str.split() splits on exactly the characters `\s` matches (str.isspace(): full-width space,
    # line breaks, U+001C-1F …) and drops the ends: the regex fold and strip, several times cheaper
    return lambda v: None if v is None else " ".join(_as_text(v).split())


def t_html() -> Fn:
    """Strip tags (block tags become line breaks), unescape entities."""

    def fn(v: Any) -> Any:
        if v is None:
            return None
        s = _as_text(v)
        if "<" in s:
            s = _BLOCK_TAG.sub("\n", s)
            s = _TAG.sub("", s)
        return html.unescape(s) if "&" in s else s

    return fn


def t_lower() -> Fn:
    """Any scalar → lower-case str (None stays None)."""
    return lambda v: None if v is None else _as_text(v).lower()


def t_upper() -> Fn:
    """Any scalar → upper-case str (None stays None)."""
    return lambda v: None if v is None else _as_text(v).upper()


def t_empty_null() -> Fn:
    """Blank strings, empty lists and placeholder dashes → None (so defaults apply)."""
    blanks = {"", "-", "--", "—", "无", "null", "None", "N/A"}
    return lambda v: None if (v is None or (isinstance(v, str) and v.strip() in blanks)
                              or (isinstance(v, list | dict) and not v)) else v


def t_truncate(length: int) -> Fn:
    """Strings cut to at most `length` characters; other values unchanged."""
    return lambda v: v[:length] if isinstance(v, str) else v


# --- numbers ------------------------------------------------------------------------

_AMOUNT_HEAD = re.compile(r"^(?:[¥￥$]|人民币|RMB|CNY)\s*", re.I)
_AMOUNT_TAIL = re.compile(r"\s*(?:元|圆|块|RMB|CNY)$", re.I)
_AMOUNT_SEP = re.compile(r"(?<=\d)[,\s](?=\d{3})")
_AMOUNT = re.compile(r"-?\d+(?:\.\d+)?")


def t_amount(max_value: float | None = 1e12) -> Fn:
    """`¥1,234.50元`, `1234.5`, `１２３４．５`, `1.2万`, numbers → Decimal CNY (2 places)."""
    limit = Decimal(str(max_value)) if max_value is not None else None
    cent = Decimal("0.01")

    def fn(v: Any) -> Any:
        if v is None:
            return None
        if isinstance(v, bool):
            raise TransformError(f"not an amount: {_short(v)}")
        if isinstance(v, int | float | Decimal):
            d = Decimal(str(v))
        else:
            s = halfwidth(_as_text(v)).strip()
            if not s:
                return None
            mult = Decimal(1)
            if s.endswith("万元") or s.endswith("万"):
                s, mult = s.removesuffix("元").removesuffix("万").strip(), Decimal(10000)
            s = _AMOUNT_SEP.sub("", _AMOUNT_TAIL.sub("", _AMOUNT_HEAD.sub("", s)).strip())
            if not _AMOUNT.fullmatch(s):
                raise TransformError(f"not an amount: {_short(v)}")
            d = Decimal(s) * mult
        if not d.is_finite():
            raise TransformError(f"not an amount: {_short(v)}")
        if d < 0:
            raise TransformError(f"negative amount: {_short(v)}")
        if limit is not None and d > limit:
            raise TransformError(f"amount out of range: {_short(v)}")
        try:
            return d.quantize(cent)
        except InvalidOperation as exc:
            raise TransformError(f"not an amount: {_short(v)}") from exc

    return fn


def t_int() -> Fn:
    """Whole numbers, also as text (full-width digits too) → int; blank text → None."""
    def fn(v: Any) -> Any:
        if v is None or isinstance(v, int) and not isinstance(v, bool):
            return v
        s = halfwidth(_as_text(v)).strip()
        if not s:
            return None
        try:
            return int(s)
        except ValueError as exc:
            raise TransformError(f"not a whole number: {_short(v)}") from exc

    return fn


def t_bool(true: list[Any] | None = None) -> Fn:
    """Booleans kept; other values → whether their text is in `true` (default 1/true/yes/y/是)."""
    truthy = {str(x).lower() for x in (true or ["1", "true", "yes", "y", "是"])}
    return lambda v: None if v is None else (v if isinstance(v, bool) else str(v).strip().lower() in truthy)


def t_gte(value: float) -> Fn:
    """Number → whether it is ≥ value (e.g. vip_level ≥ 1 → VIP)."""

    def fn(v: Any) -> Any:
        if v is None:
            return None
        try:
            return Decimal(str(halfwidth(str(v)).strip())) >= Decimal(str(value))
        except InvalidOperation as exc:
            raise TransformError(f"not a number: {_short(v)}") from exc

    return fn


# --- phones and IDs -------------------------------------------------------------------

_PHONE_JUNK = re.compile(r"[\s\-()（）.+]")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"(0(?:10|2\d|[3-9]\d{2}))(\d{7,8})")
_SERVICE = re.compile(r"[48]00\d{7}|95\d{3,6}|1[0-2]\d{3}")


def normalise_phone(value: str) -> str:
    """Mobile → `13812345678`; landline → `0571-88886666`; 400/95xxx kept; else error."""
    s = _PHONE_JUNK.sub("", halfwidth(value))
    for prefix in ("0086", "86"):
        if s.startswith(prefix) and len(s) - len(prefix) in (10, 11, 12):
            s = s[len(prefix):]
            break
    if not s.isdigit():
        raise TransformError(f"not a phone number: {_short(value)}")
    if len(s) == 11 and _MOBILE.fullmatch(s):
        return s
    if m := _LANDLINE.fullmatch(s):
        return f"{m.group(1)}-{m.group(2)}"
    if _SERVICE.fullmatch(s):
        return s
    raise TransformError(f"not a phone number ({len(s)} digits)")


def t_phone() -> Fn:
    """Phone text → its normalised form (see `normalise_phone`); blank → None."""
    def fn(v: Any) -> Any:
        if v is None:
            return None
        s = _as_text(v).strip()
        return normalise_phone(s) if s else None

    return fn


_ID18 = re.compile(r"\d{17}[\dX]")
_ID15 = re.compile(r"\d{15}")


def t_id_number() -> Fn:
    """Resident ID: 18 chars (last may be X) or the old 15 digits, birth date checked."""

    def fn(v: Any) -> Any:
        if v is None:
            return None
        s = halfwidth(_as_text(v)).strip().replace(" ", "").upper()
        if not s:
            return None
        if not (_ID18.fullmatch(s) or _ID15.fullmatch(s)):
            raise TransformError(f"not a resident ID number ({len(s)} chars)")
        if id_birth_date(s) is None:
            raise TransformError("resident ID number has an impossible birth date")
        return s

    return fn


def id_birth_date(id_number: str) -> datetime | None:
    """Birth date inside a resident ID number (None when it is not a real date)."""
    digits = id_number[6:14] if len(id_number) == 18 else "19" + id_number[6:12]
    try:
        return datetime(int(digits[:4]), int(digits[4:6]), int(digits[6:8]), tzinfo=UTC)
    except ValueError:
        return None


# --- dates ----------------------------------------------------------------------------


def _zone(name: str) -> Any:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


_ISO_SHAPED = {"%Y-%m-%d %H:%M:%S": 19, "%Y-%m-%d %H:%M": 16, "%Y-%m-%d": 10}


def t_datetime(format: str | list[str] = "iso", tz: str = "Asia/Shanghai") -> Fn:  # noqa: A002
    """Parse a timestamp → aware UTC datetime.

    `format`: strptime pattern(s), `iso` (offset optional) or `epoch`/`epoch_ms`.
    `tz`: zone of values that carry none (sources in China mostly do not).
    """
    zone = _zone(tz)
    formats = [format] if isinstance(format, str) else list(format)
    if not formats:
        raise ValueError("datetime needs at least one format")

    def parse_one(fmt: str, v: Any) -> datetime | None:
        if fmt in ("epoch", "epoch_ms"):
            if isinstance(v, bool) or not isinstance(v, int | float | str):
                return None
            try:
                n = float(v)
            except ValueError:
                return None
            return datetime.fromtimestamp(n / 1000 if fmt == "epoch_ms" else n, UTC)
        if not isinstance(v, str):
            return None
        s = halfwidth(v).strip()
        try:
            if fmt == "iso":
                d = datetime.fromisoformat(s.replace("Z", "+00:00") if s.endswith("Z") else s)
            elif (fmt in _ISO_SHAPED and len(s) == _ISO_SHAPED[fmt] and s[4] == "-" and s[7] == "-"
                  and (len(s) == 10 or s[10] == " ")):
                # the C parser is ~10x faster than strptime for the shapes most sources use
                d = datetime.fromisoformat(s)
            else:
                d = datetime.strptime(s, fmt)
        except ValueError:
            return None
        return d

    def fn(v: Any) -> Any:
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        for fmt in formats:
            d = parse_one(fmt, v)
            if d is not None:
                if d.tzinfo is None:
                    d = d.replace(tzinfo=zone)
                if not 1990 <= d.year <= 2100:
                    raise TransformError(f"date out of range: {_short(v)}")
                return d.astimezone(UTC)
        raise TransformError(f"not a date in {formats}: {_short(v)}")

    return fn


# --- codes and lists -------------------------------------------------------------------

_MISSING = object()


def t_map(values: dict[Any, Any], default: Any = _MISSING, strict: bool = True) -> Fn:
    """Value map for source status/category codes. Unknown code: `default`, else
    (strict) an error, else (not strict) the value unchanged."""
    table = {str(k): v for k, v in values.items()}

    def fn(v: Any) -> Any:
        if v is None:
            return None
        key = str(v).strip() if not isinstance(v, bool) else str(v).lower()
        hit = table.get(key, _MISSING)
        if hit is not _MISSING:
            return hit
        if default is not _MISSING:
            return default
        if strict:
            raise TransformError(f"unknown code {_short(v)} (known: {', '.join(list(table)[:12])})")
        return v

    return fn


def t_prefix(length: int) -> Fn:
    """First `length` characters (e.g. a category family from `C0302`)."""
    return lambda v: None if v is None else _as_text(v)[:length]


def t_split(sep: str = r"[,，;；、/\n]+") -> Fn:
    """Text → list of trimmed non-empty parts (lists pass through)."""
    pattern = re.compile(sep)

    def fn(v: Any) -> Any:
        if v is None:
            return None
        if isinstance(v, list):
            return v
        return [p.strip() for p in pattern.split(_as_text(v)) if p.strip()]

    return fn


def t_join(sep: str = "；") -> Fn:
    """List → one text (scalars pass through)."""

    def fn(v: Any) -> Any:
        if v is None:
            return None
        if isinstance(v, list):
            return sep.join(_as_text(x).strip() for x in v if x is not None and str(x).strip())
        return _as_text(v)

    return fn


def t_list() -> Fn:
    """Scalar → one-element list; lists of scalars → list of str."""

    def fn(v: Any) -> Any:
        if v is None:
            return None
        items = v if isinstance(v, list) else [v]
        return [_as_text(x).strip() for x in items if x is not None and str(x).strip()]

    return fn


def t_each(transforms: list[Any]) -> Fn:
    """Apply a chain of transforms to each item of a list."""
    chain = build_chain(transforms)

    def fn(v: Any) -> Any:
        if v is None:
            return None
        if not isinstance(v, list):
            raise TransformError(f"expected a list, got {type(v).__name__}")
        return [chain(x) for x in v]

    return fn


def t_records(fields: dict[str, str], required: list[str] | None = None) -> Fn:
    """List of dicts → list of dicts with renamed keys (e.g. attachments {name,url}→{name,ref})."""
    need = set(required or fields)

    def fn(v: Any) -> Any:
        if v is None:
            return None
        if not isinstance(v, list):
            raise TransformError(f"expected a list, got {type(v).__name__}")
        out = []
        for i, item in enumerate(v):
            if not isinstance(item, dict):
                raise TransformError(f"item {i}: expected an object, got {type(item).__name__}")
            row = {dst: item.get(src) for dst, src in fields.items()}
            missing = [k for k in need if row.get(k) in (None, "")]
            if missing:
                raise TransformError(f"item {i}: missing {', '.join(sorted(missing))}")
            out.append({k: _as_text(x) if x is not None else None for k, x in row.items()})
        return out

    return fn


def t_last() -> Fn:
    """A list → its last item (None when empty); other values unchanged."""
    return lambda v: (v[-1] if v else None) if isinstance(v, list) else v


def t_first() -> Fn:
    """A list → its first item (None when empty); other values unchanged."""
    return lambda v: (v[0] if v else None) if isinstance(v, list) else v


# --- registry ----------------------------------------------------------------------------

BUILTINS: dict[str, Factory] = {
    "text": t_text, "strip": t_strip, "whitespace": t_whitespace, "html": t_html, "lower": t_lower,
    "upper": t_upper, "empty_null": t_empty_null, "truncate": t_truncate, "amount": t_amount,
    "int": t_int, "bool": t_bool, "gte": t_gte, "phone": t_phone, "id_number": t_id_number,
    "datetime": t_datetime, "map": t_map, "prefix": t_prefix, "split": t_split, "join": t_join,
    "list": t_list, "each": t_each, "records": t_records, "last": t_last, "first": t_first,
}

#: named Python transforms (escape hatch); `{call: name}` in a mapping
NAMED: dict[str, Factory] = {}


def register(name: str) -> Callable[[Factory], Factory]:
    """Register a named transform factory: `@register("x") def x(**args) -> Fn`."""

    def deco(factory: Factory) -> Factory:
        NAMED[name] = factory
        return factory

    return deco


_FILLERS = re.compile(r"(?:嗯+|呃+|啊+|那个|就是说?|然后呢?|对对对?|喂+)[，,。.…、\s]*")


@register("asr_clean")
def asr_clean() -> Fn:
    """ASR call transcripts: drop filler words (嗯, 那个, 就是…) and ellipses."""

    def fn(v: Any) -> Any:
        if v is None:
            return None
        s = _FILLERS.sub("", _as_text(v))
        return re.sub(r"[…]+|\.{3,}", "。", s).strip("，, ")

    return fn


@register("progress_text")
def progress_text() -> Fn:
    """Black Cat progress timeline → the latest entry's text."""

    def fn(v: Any) -> Any:
        if not v:
            return None
        if not isinstance(v, list) or not isinstance(v[-1], dict):
            raise TransformError("progress is not a list of {time, text}")
        return v[-1].get("text")

    return fn


# --- building transforms from their YAML form ----------------------------------------------


def build_transform(item: str | dict[str, Any]) -> Callable[[Any], Any]:
    """One transform from its YAML form (name, or {name: args}); ValueError if unknown/bad."""
    if isinstance(item, str):
        name, args = item, None
    elif isinstance(item, dict) and len(item) == 1:
        name, args = next(iter(item.items()))
    else:
        raise ValueError(f"a transform is a name or a one-key map, got {item!r}")
    if name == "call":
        if isinstance(args, str):
            name, args = args, None
        elif isinstance(args, dict) and isinstance(args.get("name"), str):
            args = dict(args)
            name = args.pop("name")
        else:
            raise ValueError("call needs a transform name: {call: name} or {call: {name: ..., ...}}")
        factory = NAMED.get(name)
        if factory is None:
            raise ValueError(f"unknown named transform {name!r} (registered: {', '.join(sorted(NAMED))})")
    else:
        factory = BUILTINS.get(name)
        if factory is None:
            raise ValueError(f"unknown transform {name!r} (builtins: {', '.join(sorted(BUILTINS))})")
    try:
        if args is None:
            return factory()
        if isinstance(args, dict):
            return factory(**args)
        return factory(args)  # a single positional argument, e.g. {split: ";"}
    except TypeError as exc:
        raise ValueError(f"bad arguments for {name!r}: {exc}") from exc


def build_chain(items: list[Any]) -> Callable[[Any], Any]:
    """Compose transforms left to right into one function."""
    fns = [build_transform(x) for x in items]
    if not fns:
        return lambda v: v
    if len(fns) == 1:
        return fns[0]
    if len(fns) == 2:  # the common lengths, nested: no loop per value
        f1, f2 = fns
        return lambda v: f2(f1(v))
    if len(fns) == 3:
        f1, f2, f3 = fns
        return lambda v: f3(f2(f1(v)))

    def chain(v: Any) -> Any:
        for f in fns:
            v = f(v)
        return v

    return chain
