"""Connection profiles: what a kind of EHR exposes, as defaults for a connection.

Choosing a profile in admin sets these fields; an admin can still change each
one afterwards (the profile is a starting point, not a lock).

eClinicalWorks (the practices this product is for use it): its FHIR API gives
system-level reads through Bulk Data (`Group/{id}/$export`, scope
`system/Group.read`) under a backend app registered for bulk access, separate
from the app registered for single-patient reads and writes; it has no
Appointment resource (scheduling comes from Encounter) and refuses Task
writes, so the request's status goes to the chart as a DocumentReference
note. Whether it accepts a Communication to a practitioner is not known to
us, so clinician alerts stay in the app until an admin turns them on.
"""

from __future__ import annotations

from integrations.ehr_fhir.models import EhrConnection

C = EhrConnection
PROFILES: dict[str, dict] = {
    C.Profile.GENERIC: {
        "intake_mode": C.IntakeMode.ALL_PATIENTS,
        "has_appointment": True,
        "write_resource": C.WriteResource.TASK,
        "alert_resource": C.AlertResource.NONE,
        "scopes": "system/*.rs system/Task.cu",
        "bulk_scopes": "system/Group.read",
    },
    C.Profile.ECLINICALWORKS: {
        "intake_mode": C.IntakeMode.BULK,
        "has_appointment": False,
        "write_resource": C.WriteResource.DOCUMENT_REFERENCE,
        "alert_resource": C.AlertResource.NONE,
        # The single-patient backend app: reads by id / per patient, and the note it writes.
        "scopes": (
            "system/Patient.read system/Coverage.read system/Practitioner.read system/Organization.read "
            "system/Encounter.read system/Condition.read system/Observation.read system/DiagnosticReport.read "
            "system/Procedure.read system/MedicationRequest.read system/DocumentReference.read "
            "system/DocumentReference.write"
        ),
        # The bulk backend app.
        "bulk_scopes": "system/Group.read",
    },
}


def profile_apply(connection: EhrConnection) -> list[str]:
    """Set the profile's defaults on `connection` (not saved); returns the fields changed."""
    changed = []
    for name, value in PROFILES.get(connection.profile, {}).items():
        if getattr(connection, name) != value:
            setattr(connection, name, value)
            changed.append(name)
    return changed
