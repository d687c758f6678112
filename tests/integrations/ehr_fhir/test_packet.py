from datetime import date, timedelta

import pytest
import time_machine

from cases.models import Document, RequirementStatus, Status
from integrations.ehr_fhir.models import PhiAccessLog
from integrations.ehr_fhir.packet import assemble_packet
from payers.models import RequirementKind as K
from tests import factories as f

SERVICE = date(2026, 3, 1)


def _requirements(rule):
    specs = [
        dict(kind=K.LAB, description="HbA1c within 90 days", loinc_code="4548-4", lookback_days=90),
        dict(
            kind=K.DIAGNOSIS, description="Low back pain on the problem list", diagnosis_prefix="M54", lookback_days=365
        ),
        dict(
            kind=K.MEDICATION_TRIAL,
            description="Metformin trial ≥ 30 days in 12 months",
            rxnorm_code="860975",
            lookback_days=365,
            min_duration_days=30,
        ),
        dict(
            kind=K.THERAPY,
            description="≥ 6 weeks of physical therapy in 6 months",
            procedure_code="97110",
            lookback_days=180,
            min_duration_days=42,
        ),
        dict(kind=K.IMAGING, description="Prior imaging within a year", lookback_days=365),
        dict(kind=K.NOTE, description="Office note within 30 days", lookback_days=30),
        dict(kind=K.FREE_TEXT, description="Surgeon's rationale"),
    ]
    return [f.RequirementFactory(rule=rule, position=i, **spec) for i, spec in enumerate(specs)]


def _load_chart(ehr, pid: str, reqs, offset: int) -> None:
    """Evidence for every requirement dated `offset` days before its look-back edge."""
    ref = {"reference": f"Patient/{pid}"}
    edge = {r.kind: SERVICE - timedelta(days=r.lookback_days or 0) - timedelta(days=offset) for r in reqs}

    def at(d):
        return f"{d.isoformat()}T12:00:00Z"

    ehr.create(
        {
            "resourceType": "Observation",
            "status": "final",
            "subject": ref,
            "effectiveDateTime": at(edge[K.LAB]),
            "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "HbA1c"}]},
            "valueQuantity": {"value": 7.9, "unit": "%"},
        }
    )
    ehr.create(
        {
            "resourceType": "Condition",
            "subject": ref,
            "onsetDateTime": at(edge[K.DIAGNOSIS]),
            "clinicalStatus": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
            },
            "code": {
                "coding": [
                    {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M54.50", "display": "Low back pain"}
                ]
            },
        }
    )
    trial_end = edge[K.MEDICATION_TRIAL]
    ehr.create(
        {
            "resourceType": "MedicationRequest",
            "status": "stopped",
            "intent": "order",
            "subject": ref,
            "medicationCodeableConcept": {
                "coding": [
                    {
                        "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                        "code": "860975",
                        "display": "metformin 500 MG",
                    }
                ]
            },
            "authoredOn": (trial_end - timedelta(days=30)).isoformat(),
            "dispenseRequest": {
                "validityPeriod": {"start": (trial_end - timedelta(days=30)).isoformat(), "end": trial_end.isoformat()}
            },
        }
    )
    for d in (edge[K.THERAPY], edge[K.THERAPY] + timedelta(days=42)):
        ehr.create(
            {
                "resourceType": "Procedure",
                "status": "completed",
                "subject": ref,
                "performedDateTime": at(d),
                "code": {
                    "coding": [
                        {"system": "http://www.ama-assn.org/go/cpt", "code": "97110", "display": "Therapeutic exercise"}
                    ]
                },
            }
        )
    ehr.create(
        {
            "resourceType": "DiagnosticReport",
            "status": "final",
            "subject": ref,
            "effectiveDateTime": at(edge[K.IMAGING]),
            "conclusion": "Mild degenerative change",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "24531-6", "display": "US Abdomen"}]},
        }
    )
    ehr.create(
        {
            "resourceType": "DocumentReference",
            "status": "current",
            "subject": ref,
            "date": at(edge[K.NOTE]),
            "type": {"text": "Office visit note"},
            "content": [{"attachment": {"contentType": "text/plain", "title": "Office note", "data": "Tm90ZQ=="}}],
        }
    )


def _case(practice, ehr, payer, offset):
    rule = f.PayerRuleFactory(payer=payer, code="70551")
    reqs = _requirements(rule)
    pid = ehr.create({"resourceType": "Patient", "birthDate": "1970-01-01", "name": [{"family": "Edge"}]})["id"]
    _load_chart(ehr, pid, reqs, offset)
    patient = f.PatientFactory(practice=practice, ehr_id=pid)
    order = f.OrderFactory(practice=practice, patient=patient, requested_date=SERVICE)
    case = f.CaseFactory(order=order, payer=payer, rule=rule, status=Status.GATHERING)
    for r in reqs:
        RequirementStatus.objects.create(case=case, requirement=r)
    return case


@time_machine.travel("2026-02-20 12:00Z", tick=False)
@pytest.mark.parametrize(("offset", "expected"), [(0, "met"), (1, "gap")])
def test_every_requirement_kind_is_decided_at_its_lookback_edge(practice, connection, ehr, payer, offset, expected):
    # given evidence for each kind dated exactly at (offset 0) or one day before (offset 1) its look-back edge
    case = _case(practice, ehr, payer, offset)
    # when the packet is assembled from the EHR
    assemble_packet(case=case)
    # then each structured kind is met at the edge and a gap one day outside it; free text always waits for a person
    states = {rs.requirement.kind: rs for rs in case.requirement_statuses.select_related("requirement")}
    for kind in (K.LAB, K.DIAGNOSIS, K.MEDICATION_TRIAL, K.THERAPY, K.IMAGING, K.NOTE):
        assert states[kind].state == expected, (kind, states[kind].note)
    assert states[K.FREE_TEXT].state == "gap"
    if expected == "met":
        lab = states[K.LAB].evidence[0]
        assert lab["date"] == "2025-12-01" and lab["value"] == "7.9 %" and lab["resource"].startswith("Observation/")
        assert Document.objects.filter(case=case, ehr_reference__startswith="DocumentReference/").count() == 1
    else:
        assert "since 2025-12-01" in states[K.LAB].note


@time_machine.travel("2026-02-20 12:00Z", tick=False)
def test_every_phi_read_writes_one_access_log_row(practice, connection, ehr, payer):
    # given a case whose requirements need several FHIR searches
    case = _case(practice, ehr, payer, 0)
    before = PhiAccessLog.objects.count()
    ehr_log_start = len(ehr.requests_log())
    # when the packet is assembled
    assemble_packet(case=case)
    # then there is exactly one log row per GET the EHR received, each naming the patient and purpose
    gets = [r for r in ehr.requests_log()[ehr_log_start:] if r["method"] == "GET"]
    rows = list(PhiAccessLog.objects.order_by("id")[before:])
    assert len(rows) == len(gets) >= 6
    assert {r.resource_type for r in rows} >= {
        "Observation",
        "Condition",
        "MedicationRequest",
        "Procedure",
        "DiagnosticReport",
        "DocumentReference",
    }
    assert all(
        r.patient_id == case.patient_id and r.purpose == "packet_assembly" and r.case_id == case.pk for r in rows
    )
    # and the log is append-only
    with pytest.raises(Exception, match="append-only"):
        rows[0].save()
    with pytest.raises(Exception, match="append-only"):
        rows[0].delete()
