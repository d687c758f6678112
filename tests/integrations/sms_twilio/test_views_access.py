"""Access matrix for the phone opt-out button and the Twilio webhooks."""

import pytest
from django.urls import reverse

from tests.access_matrix import USERS, covers

HIDDEN = {"other_clinician", "outsider"}


@covers("sms_twilio:case_opt_out")
@pytest.mark.parametrize("who", USERS)
def test_phone_opt_out(as_user, who, case, sms_env):
    response = as_user(who).post(reverse("sms_twilio:case_opt_out", args=[case.pk]))
    case.patient.refresh_from_db()
    if who == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
    elif who in HIDDEN:
        assert response.status_code == 404
    else:
        # whoever sees the case may record what the patient said on the phone
        assert response.status_code == 302 and response["Location"] == case.get_absolute_url()
        assert case.patient.sms_opted_out_at is not None
        return
    assert case.patient.sms_opted_out_at is None


@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=covers(n)) for n in ("sms_twilio:status", "sms_twilio:inbound")]
)
def test_webhooks_need_the_signature_not_a_session(as_user, who, name, sms_env):
    response = as_user(who).post(reverse(name), {"MessageSid": "SM" + "0" * 32, "Body": "STOP"})
    assert response.status_code == 403
