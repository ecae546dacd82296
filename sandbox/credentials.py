"""The sandbox's published demo credentials (not secrets: documented in sandbox/README.md)."""

from __future__ import annotations

CREDENTIALS: dict[str, dict[str, str]] = {
    "gov12315": {"username": "demo_ent", "password": "Demo@12315"},
    "blackcat": {"account": "demo_merchant", "password": "Demo@heimao"},
    "app": {"client_id": "hub-demo", "client_secret": "demo-app-secret"},
    "sms": {"access_key": "LTAIdemo0001", "secret": "demo-sms-secret"},
    "callcenter": {"app_id": "hub-cc", "app_secret": "demo-cc-secret"},
}
