"""One ASGI app per simulated source system (see sandbox/README.md)."""
