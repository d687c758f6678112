"""Documentation requirement checks (payers/requirements.py): given plain facts, met with evidence or a gap.

No EHR and no database: the requirement is an unsaved model and the chart is lists of facts.
The FHIR side (turning resources into these facts) is tested in tests/integrations/ehr_fhir/test_packet.py.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest

from payers.models import DocumentationRequirement
from payers.models import RequirementKind as K
from payers.requirements import (
    Diagnosis,
    LabResult,
    MedicationUse,
    Note,
    ProcedureDone,
    Report,
    Visit,
    requirement_check,
)

SERVICE = date(2026, 3, 1)
HBA1C = "4548-4"


@dataclass
class ListChart:
    """A `Chart` from lists; records which kinds of fact were asked for."""

    labs: list = field(default_factory=list)
    dx: list = field(default_factory=list)
    meds: list = field(default_factory=list)
    procs: list = field(default_factory=list)
    reps: list = field(default_factory=list)
    docs: list = field(default_factory=list)
    encounters: list = field(default_factory=list)
    asked: list = field(default_factory=list)

    def lab_results(self, *, loinc, since):
        self.asked.append(("lab_results", loinc, since))
        return self.labs

    def diagnoses(self):
        self.asked.append(("diagnoses",))
        return self.dx

    def medications(self, *, rxnorm):
        self.asked.append(("medications", rxnorm))
        return self.meds

    def procedures(self, *, code, since):
        self.asked.append(("procedures", code, since))
        return self.procs

    def reports(self, *, loinc, since):
        self.asked.append(("reports", loinc, since))
        return self.reps

    def notes(self, *, since):
        self.asked.append(("notes", since))
        return self.docs

    def visits(self, *, since):
        self.asked.append(("visits", since))
        return self.encounters


def req(kind, **fields):
    return DocumentationRequirement(kind=kind, description="test", **fields)


def check(requirement, chart):
    return requirement_check(requirement, chart=chart, service_date=SERVICE)


def days_before(n):
    return SERVICE - timedelta(days=n)


# --- Labs ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("age", "met"), [(0, True), (90, True), (91, False)])
def test_hba1c_within_90_days_is_met_up_to_the_inclusive_edge(age, met):
    # given one HbA1c result `age` days before the service
    chart = ListChart(labs=[LabResult("Observation/1", days_before(age), (HBA1C,), "7.9 %")])
    # when "HbA1c within 90 days" is checked
    finding = check(req(K.LAB, loinc_code=HBA1C, lookback_days=90), chart)
    # then it is met up to day 90 with the result as evidence, and a gap naming the window after
    assert finding.met is met
    if met:
        assert finding.evidence == [
            {"resource": "Observation/1", "date": days_before(age).isoformat(), "value": "7.9 %"}
        ]
    else:
        assert finding.note == f"No {HBA1C} result since {days_before(90)}"
    # and the chart was asked for that code from the window's start only
    assert chart.asked == [("lab_results", HBA1C, days_before(90))]


def test_the_latest_lab_result_is_the_evidence_and_later_or_other_results_do_not_count():
    # given an older and a newer HbA1c, one dated after the service, one undated, and another test
    chart = ListChart(
        labs=[
            LabResult("Observation/old", days_before(60), (HBA1C,), "8.4 %"),
            LabResult("Observation/new", days_before(10), (HBA1C,), "7.1 %"),
            LabResult("Observation/after", SERVICE + timedelta(days=1), (HBA1C,), "6.0 %"),
            LabResult("Observation/undated", None, (HBA1C,), "5.0 %"),
            LabResult("Observation/ldl", days_before(1), ("2089-1",), "99 mg/dL"),
        ]
    )
    # when the lab requirement is checked
    finding = check(req(K.LAB, loinc_code=HBA1C, lookback_days=90), chart)
    # then the newest result inside the window is the evidence
    assert finding.met and [e["resource"] for e in finding.evidence] == ["Observation/new"]


def test_a_requirement_without_its_code_is_a_gap_without_reading_the_chart():
    # given a lab requirement with no LOINC configured
    chart = ListChart()
    # when it is checked
    finding = check(req(K.LAB, lookback_days=90), chart)
    # then it is a configuration gap and nothing was read
    assert not finding.met and "No LOINC code" in finding.note
    assert chart.asked == []


# --- Diagnoses ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "onset_age", "met"), [("M54", 100, True), ("m54.5", 365, True), ("M54", 366, False), ("M51", 1, False)]
)
def test_a_diagnosis_matches_by_icd10_prefix_with_its_onset_in_the_window(prefix, onset_age, met):
    # given low back pain (M54.50) on the problem list since `onset_age` days before the service
    chart = ListChart(dx=[Diagnosis("Condition/1", days_before(onset_age), ("M54.50",), "Low back pain")])
    # when a diagnosis prefix is required within a year
    finding = check(req(K.DIAGNOSIS, diagnosis_prefix=prefix, lookback_days=365), chart)
    # then the prefix matches with or without the dot and in any case, and the onset must be in the window
    assert finding.met is met
    if met:
        assert finding.evidence[0]["value"] == "M54.50 Low back pain"
    else:
        assert finding.note == f"No active diagnosis {prefix}* on the problem list"


# --- Medication trials --------------------------------------------------------------------------------

METFORMIN = "860975"


def trial(ref, start_age, end_age, **kw):
    end = days_before(end_age) if end_age is not None else None
    return MedicationUse(ref, days_before(start_age), end, **{"rxnorm": (METFORMIN,), "display": "metformin", **kw})


@pytest.mark.parametrize(
    ("start_age", "end_age", "met"),
    [
        (200, 170, True),  # 30 days, ended inside the window
        (200, 171, False),  # 29 days: too short
        (400, 366, False),  # long enough, but ended before the look-back window
        (30, None, True),  # still taking it: counted up to the service date
        (29, None, False),
    ],
)
def test_a_medication_trial_needs_its_minimum_duration_within_the_lookback(start_age, end_age, met):
    # given one metformin course
    chart = ListChart(meds=[trial("MedicationRequest/1", start_age, end_age)])
    # when a trial of ≥ 30 days within 12 months is required
    finding = check(req(K.MEDICATION_TRIAL, rxnorm_code=METFORMIN, lookback_days=365, min_duration_days=30), chart)
    # then only a long-enough course that reached into the window meets it
    assert finding.met is met, finding.note
    if met:
        days = (days_before(end_age or 0) - days_before(start_age)).days
        assert finding.evidence[0]["value"] == f"metformin, {days} days"
    else:
        assert finding.note == f"No trial of RxNorm {METFORMIN} of ≥ 30 days since {days_before(365)}"


def test_a_drug_class_matches_by_name_and_the_most_recent_trial_is_the_evidence():
    # given two NSAID courses and an unrelated drug, none coded with the requirement's RxNorm
    chart = ListChart(
        meds=[
            trial("MedicationStatement/old", 300, 200, rxnorm=(), names=("", "Ibuprofen 200 MG (NSAID)")),
            trial("MedicationStatement/new", 100, 50, rxnorm=(), names=("naproxen, an nsaid",)),
            trial("MedicationStatement/other", 90, 10, rxnorm=("1",), names=("lisinopril",)),
        ]
    )
    # when an NSAID trial of 30 days is required
    finding = check(req(K.MEDICATION_TRIAL, drug_class="NSAID", lookback_days=365, min_duration_days=30), chart)
    # then the class name matches case-insensitively and the latest matching course is shown
    assert finding.met and finding.evidence[0]["resource"] == "MedicationStatement/new"
    assert chart.asked == [("medications", "")]


# --- Therapy ------------------------------------------------------------------------------------------


def session(ref, age):
    return ProcedureDone(ref, days_before(age), days_before(age), ("97110",), "Therapeutic exercise")


@pytest.mark.parametrize(("last_age", "met"), [(58, True), (59, False)])
def test_therapy_must_span_its_minimum_duration(last_age, met):
    # given physical therapy sessions from 100 days before the service to `last_age` days before
    chart = ListChart(procs=[session("Procedure/b", last_age), session("Procedure/a", 100), session("Procedure/x", 80)])
    # when ≥ 6 weeks (42 days) of therapy within 6 months is required
    finding = check(req(K.THERAPY, procedure_code="97110", lookback_days=180, min_duration_days=42), chart)
    # then the span first-to-last decides; the sessions are the evidence, oldest first
    span = 100 - last_age
    assert finding.met is met
    sessions = [e["resource"] for e in finding.evidence if e["resource"]]
    assert sessions == ["Procedure/a", "Procedure/x", "Procedure/b"]
    if met:
        summary = {"resource": "", "date": days_before(100).isoformat(), "value": "42 days of therapy"}
        assert finding.evidence[0] == summary
    else:
        assert finding.note == f"Therapy spans {span} days; 42 needed"


# --- Imaging ------------------------------------------------------------------------------------------


def test_without_a_code_any_imaging_report_counts_and_with_one_only_that_study():
    # given a lab panel report and an imaging report (an abdominal ultrasound)
    chart = ListChart(
        reps=[
            Report("DiagnosticReport/lab", days_before(5), ("24323-8",), imaging=False, text="Metabolic panel"),
            Report("DiagnosticReport/us", days_before(30), ("24531-6",), imaging=True, text="Mild degenerative change"),
        ]
    )
    # when prior imaging is required, with no study and then with a different study
    any_imaging = check(req(K.IMAGING, lookback_days=365), chart)
    mri = check(req(K.IMAGING, loinc_code="24590-2", lookback_days=365), chart)
    # then the ultrasound meets the first and nothing meets the second
    assert any_imaging.met and any_imaging.evidence[0]["value"] == "Mild degenerative change"
    assert not mri.met and mri.note == f"No imaging report since {days_before(365)}"


# --- Notes --------------------------------------------------------------------------------------------


def test_a_recent_note_is_met_and_becomes_a_document_without_reading_visits():
    # given an office note 10 days before the service
    chart = ListChart(docs=[Note("DocumentReference/9", days_before(10), "Office note", "text/plain")])
    # when a note within 30 days is required
    finding = check(req(K.NOTE, lookback_days=30), chart)
    # then it is met, the note is a document to attach, and visits were not read
    assert finding.met
    assert finding.documents == [{"title": "Office note", "ref": "DocumentReference/9", "content_type": "text/plain"}]
    assert [a[0] for a in chart.asked] == ["notes"]


def test_a_missing_note_names_the_latest_visit_in_the_window():
    # given no note in the window but two visits, one of them too old
    chart = ListChart(
        docs=[Note("DocumentReference/old", days_before(45), "Old note")],
        encounters=[Visit("Encounter/1", days_before(12)), Visit("Encounter/2", days_before(40))],
    )
    # when a note within 30 days is required
    finding = check(req(K.NOTE, lookback_days=30), chart)
    # then it is a gap that says which visit's note to ask for
    assert not finding.met
    hint = f"a visit on {days_before(12)} has no note in the EHR"
    assert finding.note == f"No clinical note since {days_before(30)}; {hint}"


def test_free_text_requirements_wait_for_a_person():
    # given a free-text requirement
    chart = ListChart()
    # when it is checked
    finding = check(req(K.FREE_TEXT), chart)
    # then it is a gap for a person and nothing was read
    assert not finding.met and finding.note == "A person checks this requirement."
    assert chart.asked == []
