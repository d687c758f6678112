"""Forms keep work (issue 16 item 6): the outcome form's errors beside the field with the input kept, fields by
outcome (checked on the server too); the appeal letter full-size and as a PDF; the new-order patient search."""

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from cases.models import Status
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def submitted(case):
    case.status = Status.SUBMITTED
    case.save()
    return case


def test_outcome_error_is_beside_the_field_and_input_is_kept(client, coordinator, submitted):
    client.force_login(coordinator)
    # when an approval is recorded without its authorization number
    response = client.post(
        reverse("cases:outcome", args=[submitted.pk]),
        {"outcome": "approved", "effective_start": "2026-04-01", "units_approved": "6", "payer_reference": "REF-88"},
    )
    page = response.content.decode()
    # then the page says so next to that field, and what was typed is still there
    assert response.status_code == 400
    field = page[page.index('id="outcome-field-authorization_number"') :]
    field = field[: field.index("</div>")]
    assert "An approval needs the payer&#x27;s authorization number." in field
    # the input names its error for screen readers
    assert 'aria-describedby="id_authorization_number_error"' in field and 'id="id_authorization_number_error"' in field
    assert 'value="2026-04-01"' in page and 'value="6"' in page and 'value="REF-88"' in page
    assert '<option value="approved" selected>' in page
    submitted.refresh_from_db()
    assert submitted.status == Status.SUBMITTED


def test_htmx_outcome_error_comes_back_in_the_swapped_fragment(client, coordinator, submitted):
    client.force_login(coordinator)
    response = client.post(
        reverse("cases:outcome", args=[submitted.pk]),
        {"outcome": "denied"},
        HTTP_HX_REQUEST="true",
    )
    page = response.content.decode()
    assert response.status_code == 200  # htmx swaps 2xx only
    assert 'hx-swap-oob="true"' in page and "A denial needs the payer&#x27;s reason" in page
    assert '<details class="pop" open>' in page


def test_fields_carry_their_outcomes_and_the_server_drops_the_others(client, coordinator, submitted):
    client.force_login(coordinator)
    page = client.get(reverse("cases:detail", args=[submitted.pk])).content.decode()
    assert 'id="outcome-field-denial_reason_text" data-outcomes="denied partially_approved"' in page
    assert 'id="outcome-field-authorization_number" data-outcomes="approved partially_approved"' in page
    assert "js/outcome.js" in page
    # an approval posted with a leftover denial reason is recorded without it
    client.post(
        reverse("cases:outcome", args=[submitted.pk]),
        {
            "outcome": "approved",
            "authorization_number": "AUTH-1",
            "effective_start": "2026-04-01",
            "denial_reason_text": "typed before switching",
        },
    )
    submitted.refresh_from_db()
    assert submitted.status == Status.APPROVED and submitted.authorization_number == "AUTH-1"
    assert submitted.denial_reason_text == ""


def test_appeal_letter_downloads_as_the_edited_text(client, coordinator, case):
    case.status = Status.DENIED
    case.denial_reason_text = "Not medically necessary"
    case.save()
    client.force_login(coordinator)
    page = client.get(reverse("cases:appeal_letter", args=[case.pk])).content.decode()
    assert 'class="letter-editor"' in page and "Not medically necessary" in page  # the draft, full-size
    response = client.post(
        reverse("cases:appeal_letter", args=[case.pk]), {"letter": "Dear reviewer,\nEdited line 42."}
    )
    assert response["Content-Disposition"] == f'attachment; filename="case-{case.pk}-appeal-letter.pdf"'
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert "Edited line 42." in text
    # an empty letter is a clear 400, not a PDF
    assert client.post(reverse("cases:appeal_letter", args=[case.pk]), {"letter": ""}).status_code == 400


def test_appeal_letter_for_a_case_that_cannot_be_appealed_goes_back(client, coordinator, case):
    client.force_login(coordinator)
    response = client.get(reverse("cases:appeal_letter", args=[case.pk]), follow=True)
    assert "Only a denied or partially approved case can be appealed." in response.content.decode()


@pytest.fixture
def patients(practice):
    return [
        f.PatientFactory(
            practice=practice, first_name="Ruth", last_name="Eastwood", mrn="E-1", birth_date="1950-02-03"
        ),
        f.PatientFactory(
            practice=practice, first_name="Ruth", last_name="Eastwood", mrn="E-2", birth_date="1988-11-30"
        ),
        f.PatientFactory(practice=practice, first_name="Omar", last_name="Diaz", mrn="D-9", birth_date="1970-01-01"),
    ]


@pytest.mark.parametrize(
    ("text", "mrns"),
    [("Eastwood", {"E-1", "E-2"}), ("Eastwood, Ruth 1988-11-30", {"E-2"}), ("02/03/1950", {"E-1"}), ("d-9", {"D-9"})],
)
def test_patient_search_by_name_birth_date_or_mrn_shows_both(client, coordinator, patients, text, mrns):
    client.force_login(coordinator)
    page = client.post(reverse("cases:order_new"), {"find": "1", "patient_q": text}).content.decode()
    for p in patients:
        assert (f"MRN {p.mrn}" in page) == (p.mrn in mrns)
    if "E-2" in mrns:
        assert "born Nov 30, 1988 · MRN E-2" in page


def test_patient_picker_lists_nobody_before_a_search(client, coordinator, patients):
    client.force_login(coordinator)
    page = client.get(reverse("cases:order_new")).content.decode()
    assert "MRN E-1" not in page and 'name="patient_q"' in page


def test_htmx_patient_search_answers_the_results_only(client, coordinator, patients):
    client.force_login(coordinator)
    page = client.post(
        reverse("cases:order_new"), {"find": "1", "patient_q": "Diaz"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert page.lstrip().startswith('<div id="patient-results"') and "MRN D-9" in page
