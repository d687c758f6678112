"""'Check connection': what this EHR connection can do, tried for real.

Run from admin as a background job (a web request never calls the EHR). The
report, kept on the connection, says for each intake mode whether it works,
which scopes the token endpoint granted (per backend app), and which resources
the CapabilityStatement lists. Nothing is written to the chart: whether a
write shape is accepted is read from the CapabilityStatement, not tried.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urljoin

from django.utils import timezone

from cases.models import Patient
from integrations.base import IntegrationError
from integrations.ehr_fhir import auth, bulk, mapping
from integrations.ehr_fhir.client import FhirSession
from integrations.ehr_fhir.models import EhrConnection


def _try(fn) -> dict:
    try:
        detail = fn()
    except IntegrationError as exc:
        return {"ok": False, "detail": str(exc)[:300]}
    return {"ok": True, "detail": detail or ""}


def _search(session: FhirSession, resource_type: str, params: dict):
    def run():
        page = next(iter(session.search_pages(resource_type, params)), [])
        return f"{resource_type} search answered ({len(page)} on the first page)"

    return _try(run)


def _scopes(connection: EhrConnection, session: FhirSession) -> dict:
    if connection.auth != EhrConnection.Auth.SMART_BACKEND:
        return {"ok": True, "detail": "no authorization (sandbox)", "granted": []}
    try:
        body = auth.token_request(connection, session=session.http)
    except IntegrationError as exc:
        return {"ok": False, "detail": str(exc)[:300], "granted": []}
    granted = (body.get("scope") or "").split()
    return {"ok": True, "detail": "token issued", "granted": granted}


def _capabilities(session: FhirSession) -> dict:
    response = session._request("GET", urljoin(session.base, "metadata"))
    statement = session._parse(response, "CapabilityStatement")
    resources = {}
    for rest in statement.get("rest") or []:
        for res in rest.get("resource") or []:
            resources[res.get("type", "?")] = {
                "interactions": sorted(i.get("code", "") for i in res.get("interaction") or []),
                "operations": sorted(o.get("name", "") for o in res.get("operation") or []),
            }
    return {"fhirVersion": statement.get("fhirVersion", ""), "resources": resources}


def _a_patient(session: FhirSession, connection: EhrConnection) -> str:
    known = (
        Patient.objects.filter(practice_id=connection.practice_id)
        .exclude(ehr_id="")
        .values_list("ehr_id", flat=True)
        .first()
    )
    if known:
        return known
    if connection.bulk_group_id:
        group = session.read("Group", connection.bulk_group_id)
        for member in group.get("member") or []:
            pid = mapping.reference_id(member.get("entity"), "Patient")
            if pid:
                return pid
    return ""


def connection_check(*, connection: EhrConnection) -> dict:
    """Try every mode and capability; store and return the report."""
    session = FhirSession(connection, purpose="connection_check", system_actor="connection_check")
    since = (timezone.now() - timedelta(days=1)).isoformat(timespec="seconds")
    report: dict = {"checked_at": timezone.now().isoformat(timespec="seconds")}
    report["token"] = _scopes(connection, session)
    bulk_connection = connection.bulk_credentials()
    bulk_session = FhirSession(bulk_connection, purpose="connection_check", system_actor="connection_check")
    if bulk_connection is not connection:
        report["bulk_token"] = _scopes(bulk_connection, bulk_session)
    try:
        report["capability"] = _capabilities(session)
    except IntegrationError as exc:
        report["capability"] = {"error": str(exc)[:300], "resources": {}}
    modes = {}
    modes["all_patients"] = _search(session, "ServiceRequest", {"_lastUpdated": f"ge{since}", "_count": 1})
    try:
        patient_id = _a_patient(session, connection)
    except IntegrationError as exc:
        patient_id, modes["per_patient"] = "", {"ok": False, "detail": str(exc)[:300]}
    if patient_id:
        modes["per_patient"] = _search(session, "ServiceRequest", {"patient": f"Patient/{patient_id}", "_count": 1})
        schedule = "Appointment" if connection.has_appointment else "Encounter"
        report["schedule"] = {
            "resource": schedule,
            **_search(session, schedule, {"patient": f"Patient/{patient_id}", "_count": 1}),
        }
    elif "per_patient" not in modes:
        modes["per_patient"] = {"ok": False, "detail": "no patient to try it with (link one, or set the Group id)"}
    if connection.bulk_group_id:

        def try_export():
            status_url = bulk.kick_off(
                bulk_session, group_id=connection.bulk_group_id, types=["Patient"], since=timezone.now().isoformat()
            )
            bulk.finish(bulk_session, status_url)  # a probe: cancel it at once
            return "export accepted (202)"

        modes["bulk"] = _try(try_export)
    else:
        modes["bulk"] = {"ok": False, "detail": "no Group id configured"}
    report["modes"] = modes
    resources = report["capability"].get("resources", {})
    report["writes"] = {
        name: "create" in (resources.get(name) or {}).get("interactions", [])
        for name in (connection.write_resource, connection.alert_resource)
        if name
    }
    connection.last_check = report
    connection.last_checked_at = timezone.now()
    connection.save(update_fields=["last_check", "last_checked_at"])
    return report
