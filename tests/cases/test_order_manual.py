"""Manual order entry (cases/order_views.py, cases/orders.py): a fax or phone order opens a case."""

import pytest
from django.urls import reverse

from cases.models import Patient, PriorAuthCase
from tests import factories as f


def _post_data(provider, payer, **over):
    data = {
        "first_name": "Fax",
        "last_name": "Order",
        "birth_date": "1960-04-04",
        "mrn": "FAX-1",
        "payer": payer.pk,
        "member_id": "M1",
        "ordering_provider": provider.pk,
        "kind": "service",
        "code_system": "CPT",
        "code": "70551",
        "description": "MRI brain",
        "diagnosis_codes": "g43.909",
        "quantity": "1",
        "priority": "routine",
        "requested_date": "2026-03-01",
    }
    data.update(over)
    return data


def test_the_form_keeps_its_address():
    # given the URL name in the cases app
    # when it is reversed
    # then it is the address bookmarked before the form moved out of ehr_fhir
    assert reverse("cases:order_new") == "/orders/new/"


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("coordinator", 302),
        ("manager", 302),
        ("front_desk", 403),
        ("owner_clinician", 403),
        ("other_clinician", 403),
        ("outsider", 200),  # a manager elsewhere: our provider is not a choice, so the form is refused
    ],
)
def test_manual_order_form_is_for_coordinators_and_managers(
    client, request, practice, owner_provider, payer, who, status
):
    # given a user of the practice
    client.force_login(request.getfixturevalue(who))
    # when they enter a faxed order for a new patient
    response = client.post(reverse("cases:order_new"), _post_data(owner_provider, payer))
    # then only coordinators and managers get a case (opened by detection), others are refused
    assert response.status_code == status
    if status == 302:
        case = PriorAuthCase.objects.get()
        assert response.url == case.get_absolute_url()
        assert case.order.source == "manual" and case.order.diagnosis_codes == ["G43.909"]
        assert case.payer == payer
    else:
        assert not PriorAuthCase.objects.exists()


def test_an_order_for_an_existing_patient_reuses_them(client, coordinator, practice, owner_provider, payer):
    # given a patient already on file
    patient = f.PatientFactory(practice=practice)
    f.CoverageFactory(patient=patient, payer=payer)
    client.force_login(coordinator)
    # when a coordinator enters an order for them without new-patient fields
    data = _post_data(owner_provider, payer, patient=patient.pk, first_name="", last_name="", birth_date="", mrn="")
    data.update(payer="", member_id="")
    response = client.post(reverse("cases:order_new"), data)
    # then the case is for that patient and no patient was added
    assert response.status_code == 302
    assert PriorAuthCase.objects.get().patient == patient
    assert Patient.objects.count() == 1


def test_a_new_patient_with_a_known_mrn_is_refused_on_the_form(client, coordinator, practice, owner_provider, payer):
    # given a patient with MRN FAX-1
    f.PatientFactory(practice=practice, mrn="FAX-1")
    client.force_login(coordinator)
    # when a coordinator adds a "new" patient with the same MRN
    response = client.post(reverse("cases:order_new"), _post_data(owner_provider, payer))
    # then the form says so and nothing is opened
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert not PriorAuthCase.objects.exists()
