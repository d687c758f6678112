"""The seams every outside system plugs into.

Each channel module (integrations/<channel>) is the only place that imports
its vendor SDK and turns that SDK's errors into `IntegrationError`.
"""

from __future__ import annotations


class IntegrationError(Exception):
    """An outside system failed. `permanent=True` means retrying will not help
    (invalid phone number, payer rejected the request's shape); otherwise the
    caller retries with backoff (timeouts, 503s)."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent
