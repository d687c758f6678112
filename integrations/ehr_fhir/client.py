"""HTTP to the EHR's FHIR R4 API: reads, searches, conditional create.

Every response is checked before anyone uses it: HTTP status, JSON, the
resourceType asked for, OperationOutcome. Anything wrong becomes an
`IntegrationError` with a message staff can act on (no PHI in it). Every
read or search writes one `PhiAccessLog` row, whatever its outcome, because
the request itself discloses which patient we looked at.
"""

from __future__ import annotations

from urllib.parse import urlencode, urljoin, urlparse

import requests

from integrations.base import IntegrationError
from integrations.ehr_fhir import auth
from integrations.ehr_fhir.models import EhrConnection, PhiAccessLog
from integrations.fhir_json import FHIR_JSON, outcome_text

MAX_PAGES = 50


class FhirSession:
    """One unit of work against a practice's EHR, on behalf of a user or a job."""

    def __init__(
        self,
        connection: EhrConnection,
        *,
        purpose: str,
        user=None,
        system_actor: str = "",
        case=None,
        http: requests.Session | None = None,
    ):
        self.connection = connection
        self.purpose = purpose
        self.user = user
        self.system_actor = system_actor or ("" if user else "system")
        self.case = case
        self.http = http or requests.Session()
        self.base = connection.base_url.rstrip("/") + "/"

    # -- transport -----------------------------------------------------------------

    def _headers(self, extra: dict | None = None) -> dict:
        headers = {"Accept": FHIR_JSON}
        if self.connection.auth == EhrConnection.Auth.SMART_BACKEND:
            headers["Authorization"] = f"Bearer {auth.access_token(self.connection, session=self.http)}"
        headers.update(extra or {})
        return headers

    def _request(self, method: str, url: str, *, json_body=None, headers=None, retry_auth=True):
        try:
            response = self.http.request(
                method,
                url,
                json=json_body,
                headers=self._headers(headers),
                timeout=self.connection.timeout_seconds,
            )
        except requests.Timeout as exc:
            raise IntegrationError(f"The EHR did not answer within {self.connection.timeout_seconds} s.") from exc
        except requests.RequestException as exc:
            raise IntegrationError(f"The EHR is unreachable ({exc.__class__.__name__}).") from exc
        if response.status_code == 401 and retry_auth and self.connection.auth == EhrConnection.Auth.SMART_BACKEND:
            auth.forget_token(self.connection)  # expired early or revoked: one fresh token, one retry
            return self._request(method, url, json_body=json_body, headers=headers, retry_auth=False)
        return response

    def _parse(self, response, expected: str) -> dict:
        try:
            body = response.json()
        except ValueError as exc:
            raise IntegrationError(
                f"The EHR answered HTTP {response.status_code} with a body that is not JSON.",
                permanent=response.status_code < 500,
            ) from exc
        if not isinstance(body, dict) or "resourceType" not in body:
            raise IntegrationError("The EHR answered JSON that is not a FHIR resource.", permanent=True)
        if body["resourceType"] == "OperationOutcome" and expected != "OperationOutcome":
            raise IntegrationError(
                f"The EHR answered HTTP {response.status_code} with an OperationOutcome: {outcome_text(body)}",
                permanent=400 <= response.status_code < 500 and response.status_code not in (408, 429),
            )
        if response.status_code >= 400:
            raise IntegrationError(
                f"The EHR answered HTTP {response.status_code}.",
                permanent=response.status_code < 500 and response.status_code not in (408, 429),
            )
        if body["resourceType"] != expected:
            raise IntegrationError(
                f"The EHR answered a {body['resourceType']} where a {expected} was expected.", permanent=True
            )
        return body

    def _log(
        self, *, resource_type, resource_id="", result_ids=(), query="", patient=None, patient_ehr_id="", outcome="ok"
    ):
        PhiAccessLog.objects.create(
            user=self.user,
            system_actor=self.system_actor if self.user is None else "",
            practice_id=self.connection.practice_id,
            patient=patient,
            patient_ehr_id=patient_ehr_id or getattr(patient, "ehr_id", "") or "",
            case=self.case,
            resource_type=resource_type,
            resource_id=resource_id,
            result_ids=list(result_ids)[:200],
            query=query[:500],
            purpose=self.purpose,
            outcome=outcome,
        )

    # -- API -----------------------------------------------------------------------

    def read(self, resource_type: str, resource_id: str, *, patient=None, patient_ehr_id: str = "") -> dict:
        url = urljoin(self.base, f"{resource_type}/{resource_id}")
        outcome = "error"
        try:
            body = self._parse(self._request("GET", url), resource_type)
            outcome = "ok"
            return body
        finally:
            self._log(
                resource_type=resource_type,
                resource_id=resource_id,
                patient=patient,
                patient_ehr_id=patient_ehr_id or (resource_id if resource_type == "Patient" else ""),
                outcome=outcome,
            )

    def search_pages(self, resource_type: str, params: dict, *, patient=None, patient_ehr_id: str = ""):
        """Yield each page's resources (of `resource_type` only) in server order."""
        query = urlencode(params, doseq=True)
        url = urljoin(self.base, resource_type) + (f"?{query}" if query else "")
        for _ in range(MAX_PAGES):
            outcome, ids = "error", []
            try:
                bundle = self._parse(self._request("GET", url), "Bundle")
                resources = [
                    e["resource"]
                    for e in bundle.get("entry") or []
                    if isinstance(e.get("resource"), dict) and e["resource"].get("resourceType") == resource_type
                ]
                ids = [r.get("id", "") for r in resources]
                outcome = "ok"
            finally:
                self._log(
                    resource_type=resource_type,
                    result_ids=ids,
                    query=urlparse(url).query,
                    patient=patient,
                    patient_ehr_id=patient_ehr_id,
                    outcome=outcome,
                )
            yield resources
            url = self._next_link(bundle)
            if not url:
                return

    def _next_link(self, bundle: dict) -> str:
        for link in bundle.get("link") or []:
            if link.get("relation") == "next" and link.get("url"):
                nxt = link["url"]
                # Follow only links on our own server: a next link elsewhere would
                # send our bearer token to a third party.
                if urlparse(urljoin(self.base, nxt)).netloc == urlparse(self.base).netloc:
                    return urljoin(self.base, nxt)
        return ""

    def search(self, resource_type: str, params: dict, *, patient=None, patient_ehr_id: str = "") -> list[dict]:
        found = []
        for page in self.search_pages(resource_type, params, patient=patient, patient_ehr_id=patient_ehr_id):
            found.extend(page)
        return found

    def create_conditional(self, resource: dict, *, if_none_exist: str) -> tuple[int, dict]:
        """POST with If-None-Exist: a second call with the same identifier creates nothing."""
        url = urljoin(self.base, resource["resourceType"])
        response = self._request(
            "POST",
            url,
            json_body=resource,
            headers={"Content-Type": FHIR_JSON, "If-None-Exist": if_none_exist, "Prefer": "return=representation"},
        )
        if response.status_code == 200 and not response.content:
            return 200, {}
        body = self._parse(response, resource["resourceType"])
        return response.status_code, body

    def update(self, resource_type: str, resource_id: str, resource: dict) -> dict:
        """PUT the whole resource (an update, never a second resource)."""
        url = urljoin(self.base, f"{resource_type}/{resource_id}")
        body = {**resource, "id": resource_id}
        response = self._request("PUT", url, json_body=body, headers={"Content-Type": FHIR_JSON})
        if response.status_code in (200, 201) and not response.content:
            return body
        return self._parse(response, resource_type)

    def find_id(self, resource_type: str, system: str, value: str) -> str:
        """The id of the one resource with this business identifier ("" if none)."""
        found = self.search(resource_type, {"identifier": f"{system}|{value}"})
        return found[0].get("id", "") if found else ""
