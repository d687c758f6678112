"""Is a documentation requirement met? Payer requirement checks on plain facts.

`requirement_check(requirement, chart=..., service_date=...)` answers met (with
the evidence that met it) or a gap (with a note saying what is missing) for
one `DocumentationRequirement`: "HbA1c within 90 days", "metformin ≥ 30 days
in 12 months", "≥ 6 weeks of physical therapy in 6 months".

The facts are small dataclasses (a lab result, a diagnosis, a medication use
…) read from a `Chart`. In production the chart is the EHR
(integrations/ehr_fhir/packet.py turns FHIR resources into these facts and
drops records that do not count, such as entered-in-error results); in tests
it is a list. The chart is asked only for the kind of fact a requirement
names, with its code and look-back start, so the EHR reader can fetch the
minimum necessary; every check here still applies the code and the window
itself, so a chart that returns more changes nothing.

Look-back windows are inclusive: "within 90 days" of a service on day D is
met by evidence dated D-90 or later (dates compared as calendar days).

Kept apart from payers/rules.py (which decides whether an order needs prior
authorization at all): that module is about matching rules to orders, this
one about the evidence a matched rule asks for, and each is long enough alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol

from payers.models import DocumentationRequirement, RequirementKind

# --- Facts ------------------------------------------------------------------------------------------
# `ref` names where a fact came from ("Observation/123"); it is stored with the
# evidence so staff can find the source. Dates are calendar days.


@dataclass(frozen=True)
class LabResult:
    ref: str
    day: date | None
    loinc: tuple[str, ...]
    value: str  # "7.9 %", or the test's name when there is no value


@dataclass(frozen=True)
class Diagnosis:
    """An active problem-list entry; `day` is its onset (or when it was recorded)."""

    ref: str
    day: date | None
    icd10: tuple[str, ...]
    display: str = ""


@dataclass(frozen=True)
class MedicationUse:
    """A prescription or a statement that the patient took a drug; `end` None means still taking it."""

    ref: str
    start: date | None
    end: date | None
    rxnorm: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # the drug's text and display names, matched against a drug class
    display: str = ""


@dataclass(frozen=True)
class ProcedureDone:
    ref: str
    start: date | None
    end: date | None
    codes: tuple[str, ...]
    display: str = ""


@dataclass(frozen=True)
class Report:
    """A diagnostic report; `imaging` when its category says radiology/imaging."""

    ref: str
    day: date | None
    loinc: tuple[str, ...] = ()
    imaging: bool = False
    text: str = ""  # the conclusion, or the report's name


@dataclass(frozen=True)
class Note:
    ref: str
    day: date | None
    title: str
    content_type: str = ""


@dataclass(frozen=True)
class Visit:
    ref: str
    day: date | None


class Chart(Protocol):
    """Where the facts about one patient come from. Each method returns only facts that count
    (e.g. no entered-in-error results, no inactive problems); `since` is the look-back start or None."""

    def lab_results(self, *, loinc: str, since: date | None) -> list[LabResult]: ...

    def diagnoses(self) -> list[Diagnosis]: ...

    def medications(self, *, rxnorm: str) -> list[MedicationUse]:
        """Prescriptions first, then statements; `rxnorm` may be empty (match by drug name)."""
        ...

    def procedures(self, *, code: str, since: date | None) -> list[ProcedureDone]: ...

    def reports(self, *, loinc: str, since: date | None) -> list[Report]:
        """Diagnostic reports; `loinc` may be empty (any imaging report)."""
        ...

    def notes(self, *, since: date | None) -> list[Note]: ...

    def visits(self, *, since: date | None) -> list[Visit]: ...


# --- The answer ---------------------------------------------------------------------------------------


@dataclass
class Finding:
    """Met or not, the evidence rows stored on the case, a note for staff, and documents to attach."""

    met: bool
    evidence: list[dict] = field(default_factory=list)
    note: str = ""
    documents: list[dict] = field(default_factory=list)


def _ev(ref: str, day: date | None, value: str) -> dict:
    return {"resource": ref, "date": day.isoformat() if day else "", "value": value[:200]}


def _since_text(since: date | None) -> str:
    return f" since {since}" if since else ""


def _in_window(day: date | None, since: date | None, service_date: date) -> bool:
    return day is not None and (since is None or day >= since) and day <= service_date


def _latest(hits: list):
    # max() keeps the first of equal days, i.e. the chart's order breaks ties.
    return max(hits, key=lambda h: h.day)


def lookback_start(requirement: DocumentationRequirement, service_date: date) -> date | None:
    """The first day that counts, or None when the requirement has no look-back."""
    days = requirement.lookback_days
    return service_date - timedelta(days=days) if days else None


# --- One check per RequirementKind ----------------------------------------------------------------


def lab_check(req, chart: Chart, since: date | None, service_date: date) -> Finding:
    if not req.loinc_code:
        return Finding(False, note="No LOINC code configured for this requirement.")
    hits = [
        r
        for r in chart.lab_results(loinc=req.loinc_code, since=since)
        if req.loinc_code in r.loinc and _in_window(r.day, since, service_date)
    ]
    if not hits:
        return Finding(False, note=f"No {req.loinc_code} result" + _since_text(since))
    hit = _latest(hits)
    return Finding(True, [_ev(hit.ref, hit.day, hit.value)])


def diagnosis_check(req, chart: Chart, since: date | None, service_date: date) -> Finding:
    prefix = (req.diagnosis_prefix or "").upper().replace(".", "")
    if not prefix:
        return Finding(False, note="No ICD-10 prefix configured for this requirement.")
    # A problem is on the list until resolved, so only its onset is held to
    # the look-back (and nothing to the service date).
    hits = []
    for dx in chart.diagnoses():
        if since and (dx.day is None or dx.day < since):
            continue
        for code in dx.icd10:
            if code.upper().replace(".", "").startswith(prefix):
                hits.append(_ev(dx.ref, dx.day, f"{code} {dx.display}".strip()))
    if not hits:
        return Finding(False, note=f"No active diagnosis {req.diagnosis_prefix}* on the problem list")
    return Finding(True, hits[:5])


def drug_matches(req, med: MedicationUse) -> bool:
    """The requirement's RxNorm concept, or its drug class named in the drug's text ('metformin', 'NSAID')."""
    if req.rxnorm_code and req.rxnorm_code in med.rxnorm:
        return True
    name = (req.drug_class or "").strip().lower()
    return bool(name) and name in " ".join(med.names).lower()


def medication_trial_check(req, chart: Chart, since: date | None, service_date: date) -> Finding:
    if not (req.rxnorm_code or req.drug_class):
        return Finding(False, note="No drug (RxNorm or name) configured for this requirement.")
    need = req.min_duration_days or 0
    best: tuple[date, int, MedicationUse] | None = None
    for med in chart.medications(rxnorm=req.rxnorm_code or ""):
        if med.start is None or not drug_matches(req, med):
            continue
        last = med.end or service_date  # no end: still taking it
        if since and last < since:
            continue  # the trial ended before the look-back window
        days = (min(last, service_date) - med.start).days
        # The most recent qualifying trial is the one a reviewer wants to see.
        if days >= need and (best is None or med.start > best[0]):
            best = (med.start, days, med)
    if best is None:
        what = req.drug_class or f"RxNorm {req.rxnorm_code}"
        return Finding(False, note=f"No trial of {what}" + (f" of ≥ {need} days" if need else "") + _since_text(since))
    start, days, med = best
    return Finding(True, [_ev(med.ref, start, f"{med.display}, {days} days")])


def therapy_check(req, chart: Chart, since: date | None, service_date: date) -> Finding:
    if not req.procedure_code:
        return Finding(False, note="No procedure code configured for this requirement.")
    sessions = [
        p
        for p in chart.procedures(code=req.procedure_code, since=since)
        if req.procedure_code in p.codes and _in_window(p.start, since, service_date)
    ]
    if not sessions:
        return Finding(False, note=f"No {req.procedure_code} therapy" + _since_text(since))
    # The course runs from the first session's start to the last session's end.
    sessions.sort(key=lambda p: (p.start, p.end or p.start))
    first = sessions[0].start
    last = max(p.end or p.start for p in sessions)
    span = (last - first).days
    need = req.min_duration_days or 0
    evidence = [_ev(p.ref, p.start, p.display or req.procedure_code) for p in sessions[:10]]
    if span < need:
        return Finding(False, evidence, note=f"Therapy spans {span} days; {need} needed")
    evidence.insert(0, {"resource": "", "date": first.isoformat(), "value": f"{span} days of therapy"})
    return Finding(True, evidence)


def imaging_check(req, chart: Chart, since: date | None, service_date: date) -> Finding:
    # With a LOINC code only that study counts; without one, any imaging report.
    hits = [
        r
        for r in chart.reports(loinc=req.loinc_code or "", since=since)
        if (req.loinc_code in r.loinc if req.loinc_code else r.imaging) and _in_window(r.day, since, service_date)
    ]
    if not hits:
        return Finding(False, note="No imaging report" + _since_text(since))
    hit = _latest(hits)
    return Finding(True, [_ev(hit.ref, hit.day, hit.text)])


def note_check(req, chart: Chart, since: date | None, service_date: date) -> Finding:
    hits = [n for n in chart.notes(since=since) if _in_window(n.day, since, service_date)]
    if hits:
        note = _latest(hits)
        title = note.title or "Clinical note"
        return Finding(
            True,
            [_ev(note.ref, note.day, title)],
            documents=[{"title": title[:200], "ref": note.ref, "content_type": note.content_type}],
        )
    # No note: a recent visit tells the coordinator which note to ask for
    # (visits are read only now, when they help).
    days = sorted(v.day for v in chart.visits(since=since) if v.day and (since is None or v.day >= since))
    hint = f"; a visit on {days[-1]} has no note in the EHR" if days else ""
    return Finding(False, note=("No clinical note" + _since_text(since) + hint)[:300])


CHECKS: dict[str, Callable[..., Finding]] = {
    RequirementKind.LAB: lab_check,
    RequirementKind.DIAGNOSIS: diagnosis_check,
    RequirementKind.MEDICATION_TRIAL: medication_trial_check,
    RequirementKind.THERAPY: therapy_check,
    RequirementKind.IMAGING: imaging_check,
    RequirementKind.NOTE: note_check,
}


def requirement_check(requirement: DocumentationRequirement, *, chart: Chart, service_date: date) -> Finding:
    """Decide one requirement for a service on `service_date` from the facts in `chart`.

    Kinds without a structured check (free text) are a gap that a person closes.
    """
    check = CHECKS.get(requirement.kind)
    if check is None:
        return Finding(False, note="A person checks this requirement.")
    return check(requirement, chart, lookback_start(requirement, service_date), service_date)
