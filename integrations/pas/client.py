"""HTTP to a payer's PAS endpoint: `Claim/$submit`, `Claim/$inquire` and `Subscription`.

The only code that talks HTTP to PAS payers. Vendor errors become
`IntegrationError`: timeouts, connection errors, 429 and 5xx are transient
(retried with backoff); other 4xx mean the payer refused the request's shape
and are permanent.
"""

from __future__ import annotations

import threading

import requests
from django.conf import settings

from integrations.base import IntegrationError
from integrations.fhir_json import outcome_text

_local = threading.local()


def _session() -> requests.Session:
    # One keep-alive session per thread: polling thousands of cases reuses connections.
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


class PasClient:
    def __init__(self, base_url: str, *, timeout: tuple[float, float] | None = None):
        if not base_url:
            raise IntegrationError("The payer has no PAS FHIR base URL.", permanent=True)
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout or (settings.PAS_CONNECT_TIMEOUT_SECONDS, settings.PAS_READ_TIMEOUT_SECONDS)

    def url(self, operation: str) -> str:
        return f"{self.base_url}/Claim/${operation}"

    def submit(self, bundle: dict) -> tuple[int, dict]:
        return self._post("submit", bundle)

    def inquire(self, bundle: dict) -> tuple[int, dict]:
        return self._post("inquire", bundle)

    def create_subscription(self, subscription: dict) -> tuple[int, dict]:
        """`POST [base]/Subscription`: the payer's answer (normally the Subscription with its id)."""
        return self._send(f"{self.base_url}/Subscription", subscription, "Subscription", diagnostics=True)

    def _post(self, operation: str, bundle: dict) -> tuple[int, dict]:
        return self._send(self.url(operation), bundle, f"${operation}")

    def _send(self, url: str, body: dict, label: str, *, diagnostics: bool = False) -> tuple[int, dict]:
        try:
            response = _session().post(
                url,
                json=body,
                headers={"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"},
                timeout=self.timeout,
            )
        except requests.Timeout:
            raise IntegrationError(f"{label}: the payer did not answer in time") from None
        except requests.RequestException as exc:
            raise IntegrationError(f"{label}: cannot reach the payer ({type(exc).__name__})") from None
        status = response.status_code
        if status == 429 or status >= 500:
            said = f"{label}: payer answered HTTP {status}"
            if diagnostics:  # what the payer says about its own failure, when it says it
                said += _diagnostics_of(response)
            raise IntegrationError(said)
        try:
            answer = response.json()
        except ValueError:
            raise IntegrationError(f"{label}: payer answered HTTP {status} with a body that is not JSON") from None
        if status >= 400:
            raise IntegrationError(
                f"{label}: payer refused the request (HTTP {status}): {outcome_text(answer)}", permanent=True
            )
        if not isinstance(answer, dict):
            raise IntegrationError(f"{label}: payer answered with JSON that is not a resource")
        return status, answer


def _diagnostics_of(response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        return f": {outcome_text(body)}"
    return ""
