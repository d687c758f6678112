"""PHI canary: no template, seeded or edited, can put clinical or identifying data in a text."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from cases.models import Status
from integrations.sms_twilio.models import Language, MessageTemplate, TemplateKind
from integrations.sms_twilio.rendering import DEFAULT_BODIES, message_context, render_body
from tests import factories as f

CANARIES = {
    "diagnosis": "Z99.CANARY-DX",
    "drug": "Canarizumab",
    "procedure": "Canary arthroscopy",
    "code": "99999CANARY",
    "description": "CANARY-DESCRIPTION",
    "dob": "1961-07-04",
    "mrn": "MRN-CANARY-42",
    "member id": "MEMBER-CANARY-77",
    "last name": "Canarysdottir",
}


@pytest.fixture
def canary_case(practice, payer):
    patient = f.PatientFactory(
        practice=practice,
        first_name="Robin",
        last_name=CANARIES["last name"],
        birth_date=dt.date(1961, 7, 4),
        mrn=CANARIES["mrn"],
        mobile_phone="+15555550123",
        sms_consent=True,
    )
    f.CoverageFactory(patient=patient, payer=payer, member_id=CANARIES["member id"])
    order = f.OrderFactory(
        practice=practice,
        patient=patient,
        code=CANARIES["code"],
        description=f"{CANARIES['procedure']} with {CANARIES['drug']} {CANARIES['description']}",
        diagnosis_codes=[CANARIES["diagnosis"]],
    )
    return f.CaseFactory(
        order=order, payer=payer, status=Status.DENIED, denial_reason_text=CANARIES["diagnosis"], summary_text="x"
    )


def _leaks(text: str) -> list[str]:
    lowered = text.lower()
    values = [*CANARIES.values(), "07/04/1961", "7/4/1961", "1961"]
    return [value for value in values if value.lower() in lowered]


def test_every_template_renders_without_phi(canary_case):
    # given every template of the practice (all kinds, both languages, as seeded for a new practice)
    templates = MessageTemplate.objects.filter(practice=canary_case.practice)
    assert templates.count() == len(TemplateKind) * len(Language)
    context = message_context(case=canary_case)
    for template in templates:
        # when rendered for a synthetic case full of canaries
        text = render_body(template.body, context)
        # then none appears; the allowed pieces do
        assert _leaks(text) == [], (template.kind, template.language)
        assert "Robin" in text and f"#{canary_case.pk}" in text and "Riverside Medical Group" in text


def test_seeded_bodies_use_only_allowed_placeholders():
    for bodies in DEFAULT_BODIES.values():
        for body in bodies.values():
            MessageTemplate(body=body).full_clean(exclude=["practice", "kind", "language"])


@pytest.mark.parametrize("body", ["Hi {first_name}, DOB {birth_date}", "{patient.mrn}", "{first_name.__class__}"])
def test_admin_cannot_save_a_template_reaching_for_other_fields(practice, body):
    template = MessageTemplate(practice=practice, kind=TemplateKind.REMINDER, language="en", body=body)
    with pytest.raises(ValidationError):
        template.full_clean()


def test_unknown_placeholder_never_pulls_data_even_if_saved_around_validation(canary_case):
    # given a template saved straight to the database, skipping validation
    MessageTemplate.objects.filter(practice=canary_case.practice, kind="denied", language="en").update(
        body="Hi {first_name} {last_name} {mrn} {birth_date}"
    )
    template = MessageTemplate.objects.get(practice=canary_case.practice, kind="denied", language="en")
    # then rendering leaves the unknown names as literal text, never data
    text = render_body(template.body, message_context(case=canary_case))
    assert _leaks(text) == [] and "{mrn}" in text
