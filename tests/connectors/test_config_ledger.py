"""Source configuration, the registry, the push ledger and the SMS uplink rules (no sandbox needed)."""

from __future__ import annotations

import json

import pytest

from connectors.config import load_sources
from connectors.registry import connector_class, is_portal, make_connector, sources
from connectors.sms import delivered, match_delivery_reports
from core.configfile import reload_config
from core.errors import ConfigError
from hub.judge.intents import detect_sms_intent, survey_satisfied
from hub.store.ledger import MemoryPushLedger, StorePushLedger


def test_shipped_config_has_all_five_with_sandbox_defaults():
    cfg = load_sources()
    assert set(cfg.sources) == {"gov12315", "blackcat", "app", "sms", "callcenter"}
    assert cfg["app"].plain("client_id") == "hub-demo"
    assert cfg["app"].secret("client_secret").get_secret_value() == "demo-app-secret"
    assert cfg["sms"].plain("access_key") == "LTAIdemo0001"
    assert cfg["callcenter"].secret("app_secret").get_secret_value() == "demo-cc-secret"
    for portal in ("gov12315", "blackcat"):
        assert is_portal(portal) and cfg[portal].kind == "portal" and cfg[portal].portal.selectors
    for s in cfg.sources:
        assert cfg[s].base_url.startswith("http://127.0.0.1:")


def test_env_overrides_credentials_and_literal_secrets_are_refused(monkeypatch):
    monkeypatch.setenv("HUB_APP_CLIENT_SECRET", "from-env")
    cfg = load_sources()["app"]
    assert cfg.secret("client_secret").get_secret_value() == "from-env"
    bad = cfg.model_copy(update={"credentials": {"client_secret": "plain-literal"}})
    with pytest.raises(ConfigError, match="literal"):
        bad.secret("client_secret")
    with pytest.raises(ConfigError, match="not set"):
        cfg.model_copy(update={"credentials": {}}).secret("client_secret")


def test_source_urls_file_overrides_base_urls(tmp_path, monkeypatch):
    urls = tmp_path / "urls.json"
    urls.write_text(json.dumps({"app": "http://127.0.0.1:9999/", "sms": "http://127.0.0.1:9998"}))
    monkeypatch.setenv("HUB_SOURCE_URLS", str(urls))
    reload_config()
    try:
        cfg = load_sources()
        assert cfg["app"].base_url == "http://127.0.0.1:9999"
        assert cfg["sms"].base_url == "http://127.0.0.1:9998"
        assert cfg["callcenter"].base_url == "http://127.0.0.1:8404"
        monkeypatch.setenv("HUB_SOURCE_URLS", str(tmp_path / "missing.json"))
        reload_config()
        with pytest.raises(ConfigError, match="does not exist"):
            load_sources()
    finally:
        monkeypatch.delenv("HUB_SOURCE_URLS")
        reload_config()


def test_bad_yaml_is_a_config_error(tmp_path):
    p = tmp_path / "sources.yaml"
    p.write_text("sources:\n  app:\n    base_url: http://x\n    page_size: -1\n")
    with pytest.raises(ConfigError, match="page_size"):
        load_sources(p)
    p.write_text("sources:\n  app:\n    base_url: http://x\n")
    with pytest.raises(ConfigError, match="not configured"):
        load_sources(p)["sms"]


async def test_registry_builds_api_connectors_and_rejects_unknown():
    cfg = load_sources()
    for s in ("app", "sms", "callcenter"):
        conn = make_connector(s, config=cfg)
        assert conn.key == s and not is_portal(s)
        await conn.aclose()
    with pytest.raises(ConfigError):
        connector_class("fax")


def test_every_source_is_one_declaration():
    """The registry's list comes from config/sources.yaml and each connector's own declaration."""
    declared = {s.key: (s.kind, s.label, s.connector.Cursor.__name__) for s in sources()}
    assert declared == {"gov12315": ("portal", "12315平台", "PortalCursor"),
                        "blackcat": ("portal", "黑猫投诉", "PortalCursor"),
                        "app": ("api", "手机App", "RunCursor"), "sms": ("api", "短信", "MoCursor"),
                        "callcenter": ("api", "呼叫中心", "RunCursor")}


def test_a_section_that_does_not_fit_its_connector_is_refused(tmp_path):
    p = tmp_path / "sources.yaml"
    p.write_text("sources:\n  app:\n    kind: portal\n    base_url: http://x\n")
    with pytest.raises(ConfigError, match="kind"):
        connector_class("app", load_sources(p))
    p.write_text("sources:\n  app:\n    base_url: http://x\n    options: {token_pth: /t}\n")
    with pytest.raises(ConfigError, match="token_pth"):
        make_connector("app", config=load_sources(p))
    p.write_text("sources:\n  app:\n    base_url: http://x\n    selectors: {a: b}\n")
    with pytest.raises(ConfigError, match="selectors"):
        load_sources(p)


def test_store_ledger_roundtrip(store):
    ledger = StorePushLedger(store, "sms")
    assert ledger.get("k1") is None
    ledger.mark("k1", "sending")
    assert ledger.get("k1")["state"] == "sending"
    ledger.mark("k1", "sent", "BIZ1")
    got = ledger.get("k1")
    assert got["state"] == "sent" and got["remote_ref"] == "BIZ1" and got["source"] == "sms"
    mem = MemoryPushLedger()
    mem.mark("a", "sent", "B")
    assert mem.get("a")["remote_ref"] == "B" and mem.get("b") is None


@pytest.mark.parametrize(("text", "kind"), [
    ("1", "survey_reply"), ("２", "survey_reply"), (" 满意 ", "survey_reply"), ("不满意。", "survey_reply"),
    ("T", "unsubscribe"), ("td", "unsubscribe"), ("退订", "unsubscribe"),
    # a grade with a new grievance is a reply (the ticket reopens with the text; see tests/chase/test_survey.py)
    ("2 还是没解决，我要投诉到12315", "survey_reply"), ("我的信用卡被盗刷了", "complaint"), ("", "complaint"),
])
def test_uplink_sorting(text, kind):
    assert detect_sms_intent(text).value == kind


def test_survey_answers_and_delivery_report_matching():
    assert survey_satisfied("１") is True and survey_satisfied("不满意") is False
    assert survey_satisfied("T") is None
    sends = [{"out_id": "k1", "biz_id": "B1"}, {"out_id": "k2", "biz_id": "B2"}, {"out_id": "k3", "biz_id": "B3"}]
    reports = [{"biz_id": "B1", "out_id": "k1", "status": "DELIVRD"},
               {"biz_id": None, "out_id": "k2", "status": "UNDELIV", "err_code": "UNSUBSCRIBED"}]
    matched = dict((s["out_id"], delivered(r)) for s, r in match_delivery_reports(reports, sends))
    assert matched == {"k1": True, "k2": False, "k3": None}


def test_backfill_cursors_have_each_connectors_shape():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from connectors.portal.watermark import PortalCursor
    from connectors.registry import backfill_cursor

    since = datetime(2026, 11, 20, 1, 0, tzinfo=ZoneInfo("UTC"))  # 09:00 in Shanghai
    assert backfill_cursor("callcenter", since).to_json()["run"]["since"] == "2026-11-20 09:00:00"
    assert backfill_cursor("app", since).to_json()["run"]["since"] == "2026-11-20T09:00:00+08:00"
    assert backfill_cursor("sms", since).to_json() == {"mo_cursor": None}
    wm = backfill_cursor("gov12315", since)
    assert isinstance(wm, PortalCursor) and wm.mark == datetime(2026, 11, 20, 9, 0)
