"""FHIR Bulk Data Access (Flat FHIR) client: Group-level `$export`.

The flow of the Bulk Data IG (v2): a kick-off `GET [base]/Group/{id}/$export`
with `Prefer: respond-async` answers 202 and a status URL in
`Content-Location`; the status URL answers 202 (with `X-Progress` and
`Retry-After`) while the export runs, then 200 with a JSON manifest
(`transactionTime`, `requiresAccessToken`, `output: [{type, url}]`,
`error: [...]`), and 4xx/5xx with an OperationOutcome if the export failed.
Each output file is NDJSON, one resource a line. The next export asks
`_since` the manifest's `transactionTime` (not our clock), as the IG says.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode, urljoin, urlparse

from integrations.base import IntegrationError
from integrations.ehr_fhir.client import FhirSession
from integrations.fhir_json import outcome_text

NDJSON = "application/fhir+ndjson"
MAX_RETRY_AFTER = 30  # seconds: never sleep longer than this between two polls in one sync


class ExportNotReady(Exception):
    """The export still runs; `status_url` is polled again by the next sync."""

    def __init__(self, status_url: str, progress: str = ""):
        super().__init__(progress or "export in progress")
        self.status_url = status_url
        self.progress = progress


def kick_off(session: FhirSession, *, group_id: str, types: list[str], since: str = "") -> str:
    """Start a Group export; returns the status URL."""
    params = {"_type": ",".join(types)}
    if since:
        params["_since"] = since
    url = urljoin(session.base, f"Group/{group_id}/$export") + "?" + urlencode(params)
    response = session._request("GET", url, headers={"Prefer": "respond-async"})
    session._log(
        resource_type="Group", resource_id=group_id, query=urlencode(params), outcome=str(response.status_code)
    )
    if response.status_code != 202:
        _raise(response, "The EHR refused the bulk export")
    location = response.headers.get("Content-Location", "")
    if not location:
        raise IntegrationError("The EHR accepted the bulk export but sent no status URL (Content-Location).")
    return urljoin(session.base, location)


def _raise(response, what: str):
    try:
        detail = outcome_text(response.json())
    except ValueError:
        detail = "no OperationOutcome"
    transient = response.status_code >= 500 or response.status_code in (408, 429)
    raise IntegrationError(f"{what}: HTTP {response.status_code} ({detail}).", permanent=not transient)


def poll(session: FhirSession, status_url: str, *, wait_seconds: float, sleep=time.sleep) -> dict:
    """Poll the status URL until the manifest is ready or `wait_seconds` pass (then ExportNotReady)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        response = session._request("GET", status_url, headers={"Accept": "application/json"})
        if response.status_code == 200:
            try:
                manifest = response.json()
            except ValueError as exc:
                raise IntegrationError("The bulk export manifest is not JSON.", permanent=True) from exc
            if not isinstance(manifest, dict) or "output" not in manifest or "transactionTime" not in manifest:
                raise IntegrationError("The bulk export manifest has no output or transactionTime.", permanent=True)
            return manifest
        if response.status_code != 202:
            # The IG: a failed export answers 4xx/5xx with an OperationOutcome; the job is gone.
            _raise(response, "The bulk export failed")
        progress = response.headers.get("X-Progress", "")[:100]
        try:
            delay = min(float(response.headers.get("Retry-After", "1")), MAX_RETRY_AFTER)
        except ValueError:
            delay = 1.0  # an HTTP-date Retry-After: poll again soon
        if time.monotonic() + delay > deadline:
            raise ExportNotReady(status_url, progress)
        sleep(delay)


def download(session: FhirSession, manifest: dict) -> dict[str, list[dict]]:
    """Every output file's resources, by resource type."""
    found: dict[str, list[dict]] = {}
    needs_token = bool(manifest.get("requiresAccessToken"))
    own_host = urlparse(session.base).netloc
    for item in manifest.get("output") or []:
        url = urljoin(session.base, item.get("url") or "")
        rtype = item.get("type") or ""
        same_host = urlparse(url).netloc == own_host
        if needs_token and not same_host:
            # Our bearer token goes to the EHR only, never to another host.
            raise IntegrationError("The bulk export manifest asks for our token on another host.", permanent=True)
        response = (
            session._request("GET", url, headers={"Accept": NDJSON})
            if needs_token
            else session.http.get(url, headers={"Accept": NDJSON}, timeout=session.connection.timeout_seconds)
        )
        if response.status_code != 200:
            _raise(response, "A bulk export file could not be read")
        resources = []
        for number, line in enumerate(response.text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                resource = json.loads(line)
            except ValueError as exc:
                raise IntegrationError(
                    f"Line {number} of the {rtype} export file is not JSON.", permanent=True
                ) from exc
            if isinstance(resource, dict) and resource.get("resourceType"):
                resources.append(resource)
        for resource in resources:
            found.setdefault(resource["resourceType"], []).append(resource)
        session._log(resource_type=rtype or "Bundle", result_ids=[r.get("id", "") for r in resources], query="$export")
    return found


def finish(session: FhirSession, status_url: str) -> None:
    """Tell the server we are done with the files (DELETE on the status URL); failures are harmless."""
    try:
        session._request("DELETE", status_url)
    except IntegrationError:
        pass
