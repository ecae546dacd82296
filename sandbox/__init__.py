"""Simulated source systems (12315 portal, 黑猫 backend, app, SMS gateway, call centre).

See sandbox/README.md for the API reference. `Sandbox` runs all five on
loopback; `sandbox.generator.generate_records` produces records offline.
"""

from sandbox.credentials import CREDENTIALS
from sandbox.server import Sandbox

__all__ = ["Sandbox", "CREDENTIALS"]
