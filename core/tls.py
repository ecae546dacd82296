"""One verifying TLS context for every HTTP client the hub makes.

httpx builds a fresh `ssl.SSLContext` for each client, loading the whole CA bundle:
about 20 ms of CPU. The outbox drain makes a client per pass and a connector per
source it pushes to, so at a backlog's pace that was seconds per 10,000 messages.
`ssl.SSLContext` is made to be shared by many connections and threads; this one is
exactly what httpx builds for `verify=True` (certifi's bundle, or `SSL_CERT_FILE` /
`SSL_CERT_DIR` when set: read once, when the process first makes a client).
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def verifying_context() -> ssl.SSLContext:
    """The process's TLS context for verified HTTPS (built on first use, then shared)."""
    return httpx.create_ssl_context()
