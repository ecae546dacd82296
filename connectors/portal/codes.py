"""SMS verification codes for portal logins, through a pluggable `CodeProvider`.

The 12315 enterprise portal sends a one-time code to the account's phone after
the password step. Where the code comes from depends on the deployment:

| spec (config `code_provider:`) | provider                | use                                      |
|--------------------------------|-------------------------|------------------------------------------|
| `sandbox`                      | SandboxCodeProvider     | tests/demo: reads the sandbox admin API  |
| `env:NAME`                     | EnvCodeProvider         | a code placed in an environment variable |
| `file:PATH`                    | FileCodeProvider        | a code written to a file (by a person or an SMS-forwarding script) after the request |
| `prompt`                       | PromptCodeProvider      | an operator types it (interactive CLI runs only) |
| `python:module:attr`           | any object / callable   | the hook for a real inbox (SMS modem, forwarding app, mail-to-SMS gateway) |

A real-inbox hook is any object with `async def get_code(self, request: CodeRequest) -> str`
(or an async callable taking a `CodeRequest`), importable as `python:package.module:name`.
It must only return a code that arrived *after* `request.requested_at` (older codes
are stale) and should raise `core.errors.AuthError` when none arrives in time.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

import httpx

from core.errors import AuthError, ConfigError
from core.tls import verifying_context


@dataclass(frozen=True)
class CodeRequest:
    """What a provider needs to find the right code."""

    source: str
    username: str
    #: when the portal was asked to send the code (codes older than this are stale)
    requested_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: the portal's base URL (the sandbox provider derives its admin endpoint from it)
    base_url: str = ""
    #: masked phone the portal shows ("138****5678"), when it shows one
    phone_hint: str | None = None


@runtime_checkable
class CodeProvider(Protocol):
    """Returns the verification code for one login attempt."""

    async def get_code(self, request: CodeRequest) -> str:
        """The code sent for this login; only one that arrived after `request.requested_at`."""


_CODE = re.compile(r"\b(\d{4,8})\b")


class SandboxCodeProvider:
    """Reads the last code the sandbox portal "sent", from its admin endpoint.

    `url_template` is formatted with `base` (the portal base URL without a trailing
    slash) and `username`; the answer may be JSON (`{"code": "123456"}`) or text.
    """

    def __init__(self, url_template: str = "{base}/__admin/sms-code", *,
                 timeout: float = 10.0, poll: float = 0.2):
        self.url_template = url_template
        self.timeout = timeout
        self.poll = poll

    async def get_code(self, request: CodeRequest) -> str:
        """Poll the sandbox admin endpoint until it shows a code; AuthError after `timeout`."""
        url = self.url_template.format(base=request.base_url.rstrip("/"), username=request.username)
        deadline = asyncio.get_running_loop().time() + self.timeout
        async with httpx.AsyncClient(timeout=5.0, verify=verifying_context()) as client:
            while True:
                resp = await client.get(url)
                if resp.status_code == 200:
                    code = _extract(resp)
                    if code:
                        return code
                if asyncio.get_running_loop().time() > deadline:
                    raise AuthError(f"no SMS code from the sandbox admin endpoint (HTTP {resp.status_code})",
                                    source=request.source)
                await asyncio.sleep(self.poll)


def _extract(resp: httpx.Response) -> str | None:
    try:
        data = resp.json()
    except ValueError:
        m = _CODE.search(resp.text)
        return m.group(1) if m else None
    if isinstance(data, dict):
        for key in ("code", "sms_code", "verification_code"):
            if data.get(key):
                return str(data[key])
        for v in data.values():  # {"gov_ent": {"code": ...}} or {"codes": [...]} shapes
            if isinstance(v, dict) and v.get("code"):
                return str(v["code"])
            if isinstance(v, list) and v:
                last = v[-1]
                return str(last.get("code") if isinstance(last, dict) else last)
    if isinstance(data, list) and data:
        last = data[-1]
        return str(last.get("code") if isinstance(last, dict) else last)
    if isinstance(data, str | int):
        return str(data)
    return None


class EnvCodeProvider:
    """Takes the code from an environment variable (set by a wrapper script)."""

    def __init__(self, name: str):
        self.name = name

    async def get_code(self, request: CodeRequest) -> str:
        """The code in the environment variable; AuthError when it is empty."""
        value = os.environ.get(self.name, "").strip()
        if not value:
            raise AuthError(f"SMS code expected in environment variable {self.name}, which is empty",
                            source=request.source)
        return value


class FileCodeProvider:
    """Waits for a file to be written (after the code was requested) and reads the code from it."""

    def __init__(self, path: Path | str, *, timeout: float = 120.0, poll: float = 0.5):
        self.path = Path(path)
        self.timeout = timeout
        self.poll = poll

    async def get_code(self, request: CodeRequest) -> str:
        """Poll until the file, written after the request, holds a code; AuthError after `timeout`."""
        deadline = asyncio.get_running_loop().time() + self.timeout
        since = request.requested_at.timestamp()
        while True:
            try:
                st = self.path.stat()
                # Only a file written after the request: an old file holds a stale code.
                if st.st_mtime >= since - 1:
                    m = _CODE.search(self.path.read_text(encoding="utf-8"))
                    if m:
                        return m.group(1)
            except FileNotFoundError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise AuthError(f"no SMS code written to {self.path} within {self.timeout:.0f}s",
                                source=request.source)
            await asyncio.sleep(self.poll)


class PromptCodeProvider:
    """Asks the operator at the terminal (interactive runs only; scheduled runs must not use it)."""

    async def get_code(self, request: CodeRequest) -> str:
        """Ask the operator to type the code at the terminal; AuthError when nothing is entered."""
        hint = f" sent to {request.phone_hint}" if request.phone_hint else ""
        value = await asyncio.to_thread(input, f"[{request.source}] SMS verification code{hint}: ")
        if not value.strip():
            raise AuthError("no SMS code entered", source=request.source)
        return value.strip()


class CallableCodeProvider:
    """Wraps an async callable `(CodeRequest) -> str` as a provider (the simplest real-inbox hook)."""

    def __init__(self, fn: Callable[[CodeRequest], Awaitable[str]]):
        self.fn = fn

    async def get_code(self, request: CodeRequest) -> str:
        """The code the wrapped callable returns for this request."""
        return await self.fn(request)


def make_code_provider(spec: str | CodeProvider | None) -> CodeProvider:
    """Build a provider from its configuration spec (see the module table); default `sandbox`."""
    if spec is not None and not isinstance(spec, str):
        return spec
    spec = (spec or "sandbox").strip()
    kind, _, arg = spec.partition(":")
    if kind == "sandbox":
        return SandboxCodeProvider(arg) if arg else SandboxCodeProvider()
    if kind == "env" and arg:
        return EnvCodeProvider(arg)
    if kind == "file" and arg:
        return FileCodeProvider(arg)
    if kind == "prompt":
        return PromptCodeProvider()
    if kind == "python" and arg:
        module, _, attr = arg.partition(":")
        try:
            obj = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"code provider {spec!r} cannot be imported: {exc}") from exc
        if isinstance(obj, type):
            obj = obj()
        if isinstance(obj, CodeProvider):
            return obj
        if callable(obj):
            return CallableCodeProvider(obj)
        raise ConfigError(f"code provider {spec!r} is neither a CodeProvider nor a callable")
    raise ConfigError(f"unknown code_provider {spec!r}",
                      hint="use sandbox, env:NAME, file:PATH, prompt or python:module:attr")
