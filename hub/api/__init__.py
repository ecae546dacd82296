"""Back-office API (FastAPI): team tokens, queue, ticket detail, actions; also hosts the console."""

from hub.api.app import create_app

__all__ = ["create_app"]
