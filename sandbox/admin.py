"""`/__admin/...` on every system: clock, faults, writes, truth, inject, reset (no auth: loopback only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException, Query

from sandbox.state import SandboxState
from sandbox.systems import SOURCES


def admin_router(state: SandboxState, source: str) -> APIRouter:
    """The admin routes; `source` is the default target of per-source operations."""
    r = APIRouter(prefix="/__admin", include_in_schema=False)

    def _src(value: str | None) -> str:
        value = value or source
        if value not in SOURCES:
            raise HTTPException(400, f"unknown source {value!r}")
        return value

    @r.get("/health")
    def health() -> dict[str, Any]:
        return {"ok": True, "source": source}

    @r.get("/clock")
    def clock() -> dict[str, Any]:
        return {"now": state.now.isoformat(), "start": state.start.isoformat()}

    @r.post("/clock")
    def advance(body: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        minutes = float(body.get("advance_minutes", body.get("minutes", 0)))
        if minutes < 0:
            raise HTTPException(400, "the clock only moves forward")
        n = state.advance(minutes)
        return {"now": state.now.isoformat(), "generated": n}

    @r.get("/faults")
    def faults() -> dict[str, Any]:
        return {s: f.model_dump() for s, f in state.faults.items()}

    @r.post("/faults")
    def set_faults(body: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        body = dict(body)
        target = _src(body.pop("source", None))
        try:
            return state.set_faults(target, **body).model_dump()
        except Exception as exc:  # pydantic ValidationError: tell the caller which key is wrong
            raise HTTPException(400, str(exc)) from exc

    @r.get("/writes")
    def writes(source_: str | None = Query(None, alias="source")) -> list[dict[str, Any]]:
        return state.writes(source_)

    @r.get("/truth")
    def truth(source_: str | None = Query(None, alias="source")) -> list[dict[str, Any]]:
        return state.truth(source_)

    @r.get("/records")
    def records(source_: str | None = Query(None, alias="source")) -> list[dict[str, Any]]:
        src = _src(source_)
        return [{"source": src, "external_id": x.key, "payload": x.payload} for x in state.listing(src)]

    @r.post("/reset")
    def reset() -> dict[str, Any]:
        state.reset()
        return {"ok": True, "now": state.now.isoformat()}

    @r.get("/sms-code")
    def sms_code() -> dict[str, Any]:
        if not state.sms_code:
            raise HTTPException(404, "no code issued yet")
        return {k: v for k, v in state.sms_code.items() if not k.startswith("_")}

    @r.post("/inject")
    def inject(body: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        src = _src(body.get("source"))
        ext = state.inject(src, body.get("fields") or {}, body.get("kind", "complaint"), bool(body.get("malformed")))
        return {"source": src, "external_id": ext}

    @r.post("/generate")
    def generate(body: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        src = body.get("source")
        made = state.generate(int(body.get("n", 1)), _src(src) if src else None)
        return {"generated": [{"source": s, "external_id": e} for s, e in made]}

    @r.post("/burst")
    def burst(body: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        size = int(body.get("size", state.burst_size))
        return {"incident": state.burst(size, float(body.get("minutes", 30))), "size": size}

    @r.post("/expire-sessions")
    def expire(body: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        src = body.get("source")
        return {"expired": state.expire_sessions(_src(src) if src else None)}

    return r
