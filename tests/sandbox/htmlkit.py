"""Tiny stdlib HTML helpers for the portal tests (no bs4 in the project)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser


class FieldText(HTMLParser):
    """Collect the text inside every element carrying `data-field` (nested text included)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: dict[str, str] = {}
        self._stack: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("input", "br", "img", "meta", "link"):
            return
        self._stack.append((tag, dict(attrs).get("data-field")))
        key = self._stack[-1][1]
        if key:
            self.fields.setdefault(key, "")

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            t, _ = self._stack.pop()
            if t == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, key in self._stack:
            if key:
                self.fields[key] += data


def data_fields(page: str) -> dict[str, str]:
    p = FieldText()
    p.feed(page)
    return {k: v.strip() for k, v in p.fields.items()}


def hidden(page: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert m, f"no hidden input {name}"
    return html.unescape(m.group(1))


def attr_values(page: str, attr: str) -> list[str]:
    return [html.unescape(v) for v in re.findall(rf'{attr}="([^"]*)"', page)]
