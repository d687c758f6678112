"""Access matrix of the access-log page: managers of the practice only (issue 18 item 4)."""

import pytest
from django.urls import reverse

from cases.audit.models import AccessLog
from cases.audit.services import access_log_record
from tests.access_matrix import USERS, covers

ALLOWED = {"manager", "outsider"}  # the outsider is a manager of another practice: sees only its own rows


@covers("audit:log")
@pytest.mark.parametrize("who", USERS)
def test_access_log_page(as_user, case, who, coordinator):
    # given a row of our practice (a coordinator viewed the case)
    access_log_record(
        user=coordinator, action="view", what="case page", case_ids=[case.pk], patient_ids=[case.patient_id]
    )
    client = as_user(who)
    response = client.get(reverse("audit:log"))
    posted = client.post(reverse("audit:log"), {"mrn": case.patient.mrn})
    if who == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
        assert posted.status_code == 302 and "/login/" in posted["Location"]
        return
    if who not in ALLOWED:
        assert response.status_code == 403
        assert posted.status_code == 403
        return
    assert response.status_code == 200
    body = response.content.decode()
    # only our practice's rows: the outsider sees neither the row nor the patient
    assert ('id="audit-rows"' in body) and ((f"#{case.pk}<" in body) == (who == "manager"))
    assert posted.status_code == 302
    if who == "manager":
        assert posted["Location"].endswith(f"?patient={case.patient_id}")
    else:
        assert posted["Location"] == reverse("audit:log")  # not their patient: told so, no id given
    assert AccessLog.objects.filter(action="view", what="case page").count() == 1
