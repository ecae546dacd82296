"""One walker of the config files' `env:` references (core.secrets.env_references), two judges of it:
`hub doctor` reads every reference, `hub.secret_check` only those under secret-named keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.configfile import reload_config
from core.errors import ConfigError
from core.secrets import env_references


def test_the_walk_finds_every_reference_and_its_key(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "# env:IN_A_COMMENT|x is not a reference\n"
        "base_url: \"env:HUB_X_URL|http://127.0.0.1:1\"\n"
        "credentials: {client_secret: \"env:HUB_X_SECRET|demo\", user: \"env:HUB_X_USER\"}\n"
        "destinations:\n  - {type: webhook, url: \"env:HUB_HOOK|\"}\n"
        "note: \"not env:HUB_MID_STRING\"\nlower: \"env:not_a_name\"\n", encoding="utf-8")
    refs = env_references(tmp_path)
    assert [(r.file, r.key, r.name, r.default) for r in refs] == [
        ("a.yaml", "base_url", "HUB_X_URL", "http://127.0.0.1:1"), ("a.yaml", "client_secret", "HUB_X_SECRET", "demo"),
        ("a.yaml", "user", "HUB_X_USER", None), ("a.yaml", "url", "HUB_HOOK", "")]
    assert [r.name for r in refs if r.secret_named] == ["HUB_X_SECRET"]
    assert env_references(tmp_path, ["missing.yaml"]) == []
    (tmp_path / "b.yaml").write_text("a: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="b.yaml"):
        env_references(tmp_path)


def test_doctor_and_secret_check_judge_the_same_walk(hub_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.doctor import check_secrets
    from hub.doctor import env_references as doctor_refs
    from hub.secret_check import insecure_secrets

    monkeypatch.delenv("HUB_SANDBOX", raising=False)
    (hub_config / "chase.yaml").write_text((hub_config / "chase.yaml").read_text(encoding="utf-8") +
                                           "\nextra_base_url: \"env:HUB_EXTRA_URL|http://demo\"\n"
                                           "extra_password: \"env:HUB_EXTRA_PASSWORD|demo-pass\"\n",
                                           encoding="utf-8")
    reload_config()
    names = [n for _, n, _ in doctor_refs(hub_config)]
    assert "HUB_EXTRA_URL" in names and "HUB_EXTRA_PASSWORD" in names
    unsafe = insecure_secrets()
    assert "HUB_EXTRA_PASSWORD" in unsafe and "HUB_EXTRA_URL" not in unsafe  # a URL is not a secret
    lines = [f.text for f in check_secrets(sandbox=False)]
    assert any(t.startswith("HUB_EXTRA_URL (chase.yaml)") for t in lines)  # the doctor reads every one
    (hub_config / "teams.yaml").write_text("teams: [unclosed\n", encoding="utf-8")
    broken = [f for f in check_secrets(sandbox=False) if f.level == "error"]
    assert any("teams.yaml" in f.text for f in broken)  # one actionable line, no traceback
