"""Every mapping file: loads, maps its samples, quarantines malformed records, reports unknown keys."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from core.pii import get_vault
from core.schema import MessageKind, make_ticket_id
from core.settings import PROJECT_ROOT
from hub.mapping import MappingFileError, load_mapping_file, load_mappings
from tests.mapping.helpers import EXT_KEY, raw, samples

MAPPINGS = PROJECT_ROOT / "mappings"


@pytest.fixture(scope="module")
def ms():  # noqa: ANN201
    return load_mappings(MAPPINGS, require_all=True)


@pytest.mark.parametrize("source", list(EXT_KEY))
def test_every_mapping_maps_its_samples(ms, source):  # noqa: ANN001
    for payload in samples(source):
        r = raw(source, payload)
        out = ms.map(r)
        assert out.failure is None, out.failure
        assert out.unknown_fields == ()
        if out.kind is not MessageKind.COMPLAINT:
            assert source == "sms" and out.ticket is None
            continue
        t = out.ticket
        assert t.ticket_id == make_ticket_id(source, r.external_id)
        assert t.raw_hash == r.payload_hash
        assert t.mapping_version.startswith(f"{source}@1+") and len(t.mapping_version) <= 40
        assert t.received_at.tzinfo is not None and t.received_at.utcoffset().total_seconds() == 0
        assert t.matter.content and t.matter.title
        if t.customer.phone:
            assert t.customer.phone_hash == get_vault().hash(t.customer.phone)


def test_field_values(ms):  # noqa: ANN001
    gov = ms.map(raw("gov12315", samples("gov12315")[0])).ticket
    assert gov.customer.phone.reveal() == "13812345678"  # spaces removed
    assert gov.matter.amount == Decimal("300.00") and gov.matter.demands == ["退还年费300元", "赔礼道歉"]
    assert gov.customer.elderly  # born 1950, complaint in 2026
    assert gov.received_at.isoformat() == "2026-11-20T02:31:05+00:00"  # 10:31:05 Shanghai
    assert gov.matter.attachments[0].ref.endswith("/1") and gov.handling.source_status == "待处理"
    html = ms.map(raw("gov12315", samples("gov12315")[1])).ticket
    assert "<" not in html.matter.content and "alert" not in html.matter.content
    assert html.customer.phone.reveal() == "0571-88886666"
    cat = ms.map(raw("blackcat", samples("blackcat")[0])).ticket
    assert cat.matter.amount == Decimal("1234.50") and cat.matter.demands == ["退款", "道歉"]
    app = ms.map(raw("app", samples("app")[0])).ticket
    assert app.customer.vip and app.customer.elderly and app.customer.customer_id == "U10086"
    assert app.matter.product == "账户登录" and app.handling.source_status == "open"
    young = ms.map(raw("app", samples("app")[1])).ticket
    assert not young.customer.elderly and not young.customer.vip and young.customer.id_hash is None
    cc = ms.map(raw("callcenter", samples("callcenter")[0])).ticket
    assert cc.handling.source_status == "新建" and cc.matter.source_category == "C0302"
    assert "嗯" not in cc.matter.content and cc.matter.title == "客户反映信用卡被盗刷"
    sms = [ms.map(raw("sms", p)) for p in samples("sms")]
    assert [o.kind for o in sms] == [MessageKind.COMPLAINT, MessageKind.SURVEY_REPLY, MessageKind.UNSUBSCRIBE]


@pytest.mark.parametrize("source, key, value, field", [
    ("gov12315", "registered_at", "2026-13-45 25:61:00", "received_at"),
    ("blackcat", "created_at", "昨天下午", "received_at"),
    ("gov12315", "amount", "abc", "matter.amount"),
    ("app", "content", None, "matter.content"),
    ("callcenter", "status", "77", "handling.source_status"),
    ("app", "user", "not-an-object", "customer"),
    ("sms", "mobile", "12", "customer.phone"),
])
def test_malformed_values_fail_with_field(ms, source, key, value, field):  # noqa: ANN001
    p = samples(source)[0]
    p[key] = value
    out = ms.map(raw(source, p))
    assert out.ticket is None and out.failure is not None
    assert out.failure.field.startswith(field), out.failure
    assert out.failure.message and out.mapping_version == ms.version(source)


@pytest.mark.parametrize("source", list(EXT_KEY))
def test_missing_id_or_content_fails(ms, source):  # noqa: ANN001
    p = samples(source)[0]
    ext = p.pop(EXT_KEY[source])
    out = ms.map(raw(source, p, external_id=ext))
    assert out.failure and out.failure.field.startswith("external_id")
    p = samples(source)[0]
    p.pop({"callcenter": "transcript"}.get(source, "content"))
    out = ms.map(raw(source, p))
    assert out.failure and "required" in out.failure.message


def test_unknown_fields_reported_not_dropped(ms):  # noqa: ANN001
    p = samples("app")[0] | {"new_flag": True, "_kind": "complaint"}
    r = raw("app", p)
    out = ms.map(r)
    assert out.ok and out.unknown_fields == ("new_flag",)
    assert r.payload["new_flag"] is True  # the raw record keeps it


def test_sms_kind_hint_wins(ms):  # noqa: ANN001
    p = samples("sms")[0] | {"_kind": "survey_reply"}
    assert ms.map(raw("sms", p)).kind is MessageKind.SURVEY_REPLY


def _write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("body, field", [
    ("source: app\nversion: 1\nexternal_id: id\nfields:\n  received_at: created_at\n", "fields"),
    ("source: app\nversion: 1\nexternal_id: id\nfields:\n  received_at: {path: created_at, transforms: [nope]}\n"
     "  matter.content: content\n", "fields.received_at.transforms[0]"),
    ("source: app\nversion: 0\nexternal_id: id\nfields: {}\n", "version"),
    ("source: app\nversion: 1\nexternal_id: id\nfields:\n  matter.colour: x\n", "fields"),
    ("source: app\nversion: 1\nexternal_id: id\nfields:\n  received_at: {pth: x}\n  matter.content: c\n",
     "fields.received_at.pth"),
    ("source: sms\nversion: 1\nexternal_id: id\nfields: {received_at: c, matter.content: c}\n", "source"),
    ("source: app\n  version: [\n", "(yaml)"),
    ("- just a list\n", "(file)"),
])
def test_bad_files_name_file_and_field(tmp_path, body, field):  # noqa: ANN001
    path = _write(tmp_path, "app.yaml", body)
    with pytest.raises(MappingFileError) as exc:
        load_mapping_file(path)
    assert exc.value.field == field and str(path) in str(exc.value)


def test_version_changes_with_content(tmp_path):  # noqa: ANN001
    shutil.copy(MAPPINGS / "sms.yaml", tmp_path / "sms.yaml")
    v1 = load_mapping_file(tmp_path / "sms.yaml").version
    (tmp_path / "sms.yaml").write_text((tmp_path / "sms.yaml").read_text() + "\n# tweak\n")
    v2 = load_mapping_file(tmp_path / "sms.yaml").version
    assert v1 != v2 and v1.split("+")[0] == v2.split("+")[0] == "sms@1"
    with pytest.raises(MappingFileError, match="no mapping for"):
        load_mappings(tmp_path, require_all=True)
    assert set(load_mappings(tmp_path).mappings) == {"sms"}
