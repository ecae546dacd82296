"""Shared by the security tests: sign in to the console over plain HTTP (CSRF token from the pages)."""

from __future__ import annotations

import re

import httpx

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def console_login(base_url: str, username: str, password: str,
                  headers: dict[str, str] | None = None) -> tuple[httpx.Client, httpx.Response]:
    """A client that posted the sign-in form (with the login page's CSRF token); the answer to the POST."""
    c = httpx.Client(base_url=base_url, timeout=20, follow_redirects=False, headers=headers or {})
    m = CSRF.search(c.get("/console/login").text)
    assert m is not None
    return c, c.post("/console/login", data={"username": username, "password": password, "csrf": m.group(1)})


def page_csrf(c: httpx.Client, path: str = "/console/") -> str:
    """The CSRF token on a signed-in page."""
    m = CSRF.search(c.get(path).text)
    assert m is not None, "no form on the page (signed out?)"
    return m.group(1)
