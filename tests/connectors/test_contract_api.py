"""The contract suite for the API connectors, against a real sandbox on 127.0.0.1."""

from __future__ import annotations

from tests.connectors.api_adapters import AppAdapter, CallCenterAdapter, SmsAdapter
from tests.connectors.contract import ConnectorContract


class TestAppContract(ConnectorContract):
    adapter = AppAdapter()


class TestSmsContract(ConnectorContract):
    adapter = SmsAdapter()


class TestCallCenterContract(ConnectorContract):
    adapter = CallCenterAdapter()
