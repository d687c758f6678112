"""The demo practice's EHR: connected to the built-in sandbox EHR, with one Synthea patient and a live order."""

from __future__ import annotations

import json
from datetime import date, timedelta

from django.conf import settings
from django.utils import timezone

from cases.demo import SYNTHEA_BUNDLE
from cases.detection import case_open_for_order
from cases.models import Coverage, Order, Patient
from integrations.ehr_fhir.models import EhrConnection, SandboxResource
from integrations.ehr_fhir.sandbox import load_bundle
from integrations.ehr_fhir.sandbox_auth import sandbox_connection_fields
from payers.models import CodeSystem


def demo_ehr_sandbox(*, practice, base_url: str, providers, payers, out, **_) -> None:
    """Connect the practice to the built-in sandbox EHR and load one Synthea patient into it.

    That patient gets a live order (not history): when the cluster runs, the
    packet is assembled from the sandbox over FHIR like any real case.
    """
    if not settings.SANDBOX_ENABLED:
        return
    # Signed in like a real EHR: SMART Backend Services with a key made for the demo (sandbox_auth).
    EhrConnection.objects.get_or_create(practice=practice, defaults=sandbox_connection_fields(base_url))
    if SandboxResource.objects.exists() or not SYNTHEA_BUNDLE.exists():
        return
    bundle = json.loads(SYNTHEA_BUNDLE.read_text())
    count = load_bundle(bundle)
    resource = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    name = resource["name"][0]
    patient = Patient.objects.create(
        practice=practice,
        first_name=name["given"][0],
        last_name=name["family"],
        birth_date=date.fromisoformat(resource["birthDate"]),
        mrn="RMG199999",
        ehr_id=resource["id"],
        mobile_phone="+12025550142",
        sms_consent=True,
        sms_consent_at=timezone.now(),
    )
    payer = next(p for p in payers if p.name == "Lakeshore Community Medicaid")
    Coverage.objects.create(
        patient=patient, payer=payer, plan=payer.plans.first(), member_id="LCM00019999", start=date(2025, 1, 1)
    )
    provider = next(p for p in providers if p.specialty == "Primary care")
    order = Order.objects.create(
        practice=practice,
        patient=patient,
        kind=Order.Kind.MEDICATION,
        code_system=CodeSystem.RXNORM,
        code="1991302",
        description="Semaglutide injection",
        diagnosis_codes=["E11.65"],
        ordering_provider=provider,
        location=provider.location,
        site_of_service="11",
        requested_date=timezone.localdate() + timedelta(days=10),
        source=Order.Source.MANUAL,
    )
    # Live, not history: the receivers are connected, so the packet job is queued.
    case_open_for_order(order=order)
    out(f"Sandbox EHR: {count} FHIR resources loaded; {patient.first_name} {patient.last_name} has a live order.")
