"""HTTP to a payer's PAS endpoint: `Claim/$submit`, `Claim/$inquire` and `Subscription`.

The only code that talks HTTP to PAS payers. Vendor errors become
`IntegrationError`: timeouts, connection errors, 429 and 5xx are transient
(retried with backoff); other 4xx mean the payer refused the request's shape
and are permanent. With a `PayerConnection` every call carries a bearer token
(`integrations.pas.auth`) and, when configured, the payer's client certificate;
a 401 drops the cached token and tries once more with a fresh one.
"""

from __future__ import annotations

import threading

import requests
from django.conf import settings

from integrations.base import IntegrationError
from integrations.fhir_json import outcome_text
from integrations.pas import auth

_local = threading.local()


def _session() -> requests.Session:
    # One keep-alive session per thread: polling thousands of cases reuses connections.
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


def client_for(payer) -> PasClient:
    """The client for a payer, with its PAS connection (auth, certificate) when one is configured."""
    from integrations.pas.models import PayerConnection

    connection = PayerConnection.objects.filter(payer=payer).first()
    if connection is not None and connection.auth == PayerConnection.Auth.NONE and not connection.client_cert_pem:
        connection = None
    return PasClient(payer.fhir_base_url, connection=connection)


class PasClient:
    def __init__(self, base_url: str, *, timeout: tuple[float, float] | None = None, connection=None):
        if not base_url:
            raise IntegrationError("The payer has no PAS FHIR base URL.", permanent=True)
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout or (settings.PAS_CONNECT_TIMEOUT_SECONDS, settings.PAS_READ_TIMEOUT_SECONDS)
        self.connection = connection

    def _uses_token(self) -> bool:
        from integrations.pas.models import PayerConnection

        return self.connection is not None and self.connection.auth == PayerConnection.Auth.PRIVATE_KEY_JWT

    def _post_once(self, url: str, body: dict, *, fresh_token: bool = False):
        headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
        if self._uses_token():
            if fresh_token:
                auth.forget_token(self.connection)
            token = auth.access_token(self.connection, session=_session(), timeout=self.timeout)
            headers["Authorization"] = f"Bearer {token}"
        with auth.client_cert(self.connection) as cert:
            return _session().post(url, json=body, headers=headers, timeout=self.timeout, cert=cert)

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
            response = self._post_once(url, body)
            if response.status_code == 401 and self._uses_token():
                # The payer may have revoked or expired the token early: one fresh token, once.
                response = self._post_once(url, body, fresh_token=True)
        except requests.Timeout:
            raise IntegrationError(f"{label}: the payer did not answer in time") from None
        except requests.RequestException as exc:
            raise IntegrationError(f"{label}: cannot reach the payer ({type(exc).__name__})") from None
        status = response.status_code
        if status in (401, 403):
            # Our credentials, not the request, were refused: an admin must fix the connection.
            why = (
                "no credentials are configured for this payer" if not self._uses_token() else "check the PAS connection"
            )
            raise IntegrationError(f"{label}: payer refused our credentials (HTTP {status}): {why}", permanent=True)
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
