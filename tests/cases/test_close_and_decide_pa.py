"""The buttons a case's next step asks for exist and work (found walking the demo day as the coordinator).

An approved case said "close the case once it is done" and a new case "check whether PA is required", with no
button for either; nothing in the running application ever closed a case.
"""

import pytest
from django.urls import reverse

from cases.models import Status, Task
from tests import factories as f


def _page(client, case):
    return client.get(reverse("cases:detail", args=[case.pk])).content.decode()


@pytest.mark.parametrize("status", [Status.APPROVED, Status.PARTIALLY_APPROVED, Status.DENIED, Status.EXPIRED])
def test_a_decided_case_is_closed_from_its_page(client, coordinator, case, status):
    # given a decided case with an open task
    case.status = status
    case.save(update_fields=["status"])
    task = f.TaskFactory(case=case, title="Call the patient", role="coordinator")
    client.force_login(coordinator)
    # when the coordinator sees its page, then it offers to close it
    assert reverse("cases:close", args=[case.pk]) in _page(client, case)
    # when they close it with a reason
    response = client.post(reverse("cases:close", args=[case.pk]), {"reason": "Service delivered"}, follow=True)
    # then the case is closed, the reason is on the timeline and nothing is left open
    case.refresh_from_db()
    task.refresh_from_db()
    assert case.status == Status.CLOSED
    assert task.done_at is not None
    assert case.events.filter(to_status=Status.CLOSED, message__contains="Service delivered").exists()
    assert "Case closed." in response.content.decode()


def test_closing_needs_a_reason_and_a_decided_case(client, coordinator, case):
    client.force_login(coordinator)
    case.status = Status.APPROVED
    case.save(update_fields=["status"])
    # when the reason is empty, then a clear message and no change
    response = client.post(reverse("cases:close", args=[case.pk]), {"reason": "  "}, follow=True)
    case.refresh_from_db()
    assert case.status == Status.APPROVED
    assert response.status_code == 200 and "Reason" in response.content.decode()
    # when the case is still with the payer, then it is refused in words (no 500) and not offered
    case.status = Status.SUBMITTED
    case.save(update_fields=["status"])
    assert reverse("cases:close", args=[case.pk]) not in _page(client, case)
    response = client.post(reverse("cases:close", args=[case.pk]), {"reason": "x"}, follow=True)
    case.refresh_from_db()
    assert case.status == Status.SUBMITTED
    assert "cannot be closed" in response.content.decode()


def test_the_front_desk_cannot_close_a_case(client, front_desk, case):
    case.status = Status.APPROVED
    case.save(update_fields=["status"])
    client.force_login(front_desk)
    assert client.post(reverse("cases:close", args=[case.pk]), {"reason": "done"}).status_code == 403
    case.refresh_from_db()
    assert case.status == Status.APPROVED


@pytest.mark.parametrize("status", [Status.NEW, Status.RETRO_AUTH])
def test_pa_required_starts_the_packet(client, coordinator, case, status):
    # given a case the rules could not decide (or an emergency order), with its "check" task
    case.status = status
    case.save(update_fields=["status"])
    kind = Task.Kind.REVIEW_RULE if status == Status.NEW else Task.Kind.RETRO_AUTH
    task = f.TaskFactory(case=case, kind=kind, title="Check whether PA is required", role="coordinator")
    client.force_login(coordinator)
    assert reverse("cases:decide_pa", args=[case.pk]) in _page(client, case)
    # when the coordinator says PA is required
    client.post(reverse("cases:decide_pa", args=[case.pk]), {"required": "yes"})
    # then the case has left the undecided state for the gate's status and its check task is done
    case.refresh_from_db()
    task.refresh_from_db()
    assert case.status in (Status.GATHERING, Status.NEEDS_CLINICIAN)
    assert task.done_at is not None
    assert "Next: <strong>Check whether PA is required" not in _page(client, case)
    assert "Before it goes to the payer" in _page(client, case)


def test_no_pa_required_needs_a_reason(client, coordinator, case):
    client.force_login(coordinator)
    url = reverse("cases:decide_pa", args=[case.pk])
    response = client.post(url, {"required": "no", "reason": ""}, follow=True)
    case.refresh_from_db()
    assert case.status == Status.NEW
    assert "Say why no prior authorization is needed." in response.content.decode()
    client.post(url, {"required": "no", "reason": "Payer confirmed by phone: code not on its list"})
    case.refresh_from_db()
    assert case.status == Status.NOT_REQUIRED
    assert case.events.filter(message__contains="code not on its list").exists()


def test_pa_decision_refuses_bad_input_and_a_case_without_payer(client, coordinator, case):
    client.force_login(coordinator)
    url = reverse("cases:decide_pa", args=[case.pk])
    response = client.post(url, {"required": "maybe"}, follow=True)
    assert response.status_code == 200 and "PA required" in response.content.decode()
    case.payer = None
    case.save(update_fields=["payer"])
    response = client.post(url, {"required": "yes"}, follow=True)
    case.refresh_from_db()
    assert case.status == Status.NEW
    assert "This case has no payer" in response.content.decode()
