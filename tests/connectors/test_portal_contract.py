"""The shared connector contract suite for the two portals, in real Chromium against the sandbox."""

from __future__ import annotations

import pytest

from tests.connectors.contract import ConnectorContract
from tests.connectors.portal_adapters import BlackcatAdapter, Gov12315Adapter

pytestmark = pytest.mark.browser


class _Browser:
    @pytest.fixture(autouse=True)
    def _bind_browser(self, browser, tmp_path):  # noqa: ANN001, ANN202
        self.adapter.bind(browser, tmp_path)  # type: ignore[attr-defined]


class TestGov12315Contract(_Browser, ConnectorContract):
    adapter = Gov12315Adapter()


class TestBlackcatContract(_Browser, ConnectorContract):
    adapter = BlackcatAdapter()
