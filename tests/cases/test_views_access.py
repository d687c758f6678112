"""The access matrix on every case URL, htmx partial and action.

Who sees a case: coordinator, manager, front desk and the clinician who owns
it. The other clinician and another practice's user get 404 (not 403: the
case's existence does not leak). Anonymous visitors are sent to the login.
Of those who see it, a role without the action gets 403.
"""

import pytest
from django.urls import reverse

from cases.models import Status
from tests import factories as f
from tests.access_matrix import covers

SEES = {"coordinator", "manager", "owner_clinician", "front_desk"}
HIDDEN = {"other_clinician", "outsider"}
USERS = sorted(SEES | HIDDEN) + ["anonymous"]

# action url name → roles (fixture names) that may do it, per the product's "who uses it".
ACTIONS = {
    "pick_up": {"coordinator", "manager"},
    "assign": {"coordinator", "manager"},
    "note": {"coordinator", "manager", "owner_clinician", "front_desk"},
    "upload": {"coordinator", "manager", "owner_clinician"},
    "resolve_gap": {"coordinator", "manager", "owner_clinician"},
    "request_input": {"coordinator", "manager"},
    "attest": {"owner_clinician"},
    "update_summary": {"coordinator", "manager", "owner_clinician"},
    "approve": {"manager"},
    "submit": {"coordinator", "manager"},
    "send_update": {"coordinator", "manager"},
    "outcome": {"coordinator", "manager"},
    "escalate": {"coordinator", "manager", "owner_clinician"},
    "cancel": {"coordinator", "manager"},
    "close": {"coordinator", "manager"},
    "decide_pa": {"coordinator", "manager"},
    "schedule": {"coordinator", "manager", "front_desk"},
    "appeal": {"coordinator", "manager"},
}


@pytest.fixture
def as_user(client, request):
    def _as(name):
        if name != "anonymous":
            client.force_login(request.getfixturevalue(name))
        return client

    return _as


@pytest.fixture(autouse=True)
def _all_users(coordinator, manager, owner_clinician, other_clinician, outsider, front_desk):
    """Every user exists in every test, so role lookups see the whole practice."""


def _expect_hidden_or_login(response, who):
    if who == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
        return True
    if who in HIDDEN:
        assert response.status_code == 404
        return True
    return False


@covers("cases:detail")
@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("htmx", [False, True])
def test_case_page(as_user, case, who, htmx):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = as_user(who).get(reverse("cases:detail", args=[case.pk]), **headers)
    if not _expect_hidden_or_login(response, who):
        assert response.status_code == 200
        # minimum necessary: the front desk gets the scheduling page, without the timeline
        assert (f'id="case-{case.pk}-timeline"' in response.content.decode()) == (who != "front_desk")
        assert f'id="case-{case.pk}-header"' in response.content.decode()


@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("action", [pytest.param(a, marks=covers(f"cases:{a}")) for a in sorted(ACTIONS)])
@pytest.mark.parametrize("htmx", [False, True])
def test_case_actions(as_user, case, who, action, htmx):
    # Whether the state allows the action is not the point here: a refused
    # action still answers 200 (htmx) / 302 (plain) with a message.
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    events_before = case.events.count()
    response = as_user(who).post(reverse(f"cases:{action}", args=[case.pk]), {}, **headers)
    if _expect_hidden_or_login(response, who):
        assert case.events.count() == events_before
        return
    if who not in ACTIONS[action]:
        assert response.status_code == 403
        assert case.events.count() == events_before
        return
    if htmx and who == "front_desk":
        # the case page's fragments carry the clinical side: the front desk gets the scheduling page's own
        body = response.content.decode()
        assert response.status_code == 200 and "HX-Redirect" not in response
        assert f'id="case-{case.pk}-header" hx-swap-oob="true"' in body
        assert f'id="case-{case.pk}-timeline"' not in body and f'id="case-{case.pk}-summary"' not in body
    elif htmx:
        assert response.status_code == 200
        assert 'hx-swap-oob="true"' in response.content.decode()
    elif action == "outcome":
        # an empty outcome form comes back with its errors beside the fields (input kept), not as a redirect
        assert response.status_code == 400
        assert "The outcome was not recorded" in response.content.decode()
    else:
        assert response.status_code == 302 and response["Location"] == reverse("cases:detail", args=[case.pk])


@covers("cases:live")
@pytest.mark.parametrize("who", USERS)
def test_case_live_poll(as_user, case, who):
    # The background poll of the case page: who sees the case gets its fragments (or 204 when unchanged).
    response = as_user(who).get(reverse("cases:live", args=[case.pk]), HTTP_HX_REQUEST="true")
    if not _expect_hidden_or_login(response, who):
        assert response.status_code == 200
        assert f'id="case-{case.pk}-live"' in response.content.decode()


@pytest.mark.parametrize("who", USERS)
def test_actions_refuse_get(as_user, case, who):
    # 405 comes before the case lookup, for any id, so it tells nothing about existence.
    client = as_user(who)
    for pk in (case.pk, 999_999):
        response = client.get(reverse("cases:note", args=[pk]))
        assert response.status_code == (302 if who == "anonymous" else 405)


@covers("cases:document")
@pytest.mark.parametrize("who", USERS)
def test_document_download(as_user, case, who, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    from django.core.files.uploadedfile import SimpleUploadedFile

    from cases.documents import document_upload

    doc = document_upload(
        case=case,
        actor=None,
        file=SimpleUploadedFile("x.pdf", f.PDF_BYTES, "application/pdf"),
        title="Note",
    )
    response = as_user(who).get(reverse("cases:document", args=[case.pk, doc.pk]))
    if _expect_hidden_or_login(response, who):
        return
    if who == "front_desk":
        assert response.status_code == 403
        return
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == f.PDF_BYTES


@covers("cases:packet")
@pytest.mark.parametrize("who", USERS)
def test_submission_packet(as_user, case, who, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    case.status = Status.READY
    case.save()
    events_before = case.events.count()
    response = as_user(who).get(reverse("cases:packet", args=[case.pk]))
    if _expect_hidden_or_login(response, who):
        assert case.events.count() == events_before
        return
    if who not in {"coordinator", "manager"}:
        assert response.status_code == 403
        assert case.events.count() == events_before
        return
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="case-{case.pk}-packet.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content.startswith(b"%PDF-")
    # a download is a PHI export: it is on the timeline
    assert case.events.count() == events_before + 1


def test_submission_packet_of_an_unknown_case_is_404(client, coordinator):
    client.force_login(coordinator)
    assert client.get(reverse("cases:packet", args=[999_999])).status_code == 404


def test_document_of_another_case_is_404(client, case, coordinator, practice, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    from django.core.files.uploadedfile import SimpleUploadedFile

    from cases.documents import document_upload

    other = f.CaseFactory(order__practice=practice)
    doc = document_upload(
        case=other, actor=None, file=SimpleUploadedFile("x.pdf", f.PDF_BYTES, "application/pdf"), title="x"
    )
    client.force_login(coordinator)
    assert client.get(reverse("cases:document", args=[case.pk, doc.pk])).status_code == 404


@covers("cases:queue")
@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("htmx", [False, True])
def test_queue(as_user, case, who, htmx):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = as_user(who).get(reverse("cases:queue") + "?view=all", **headers)
    if who == "anonymous":
        assert response.status_code == 302
        return
    assert response.status_code == 200
    body = response.content.decode()
    assert (f'id="case-{case.pk}"' in body) == (who in SEES)
    assert ("<html" in body) == (not htmx)


@covers("cases:bulk_assign")
@pytest.mark.parametrize("who", USERS)
def test_bulk_assign(as_user, case, who, coordinator):
    response = as_user(who).post(reverse("cases:bulk_assign"), {"cases": [case.pk], "to": f"user:{coordinator.pk}"})
    case.refresh_from_db()
    if who == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
    elif who in {"coordinator", "manager", "outsider"}:
        # the outsider may assign in general, but sees none of our cases: nothing changes
        assert response.status_code == 302
    else:
        assert response.status_code == 403
    assert (case.assignee_id == coordinator.pk) == (who in {"coordinator", "manager"})


@covers("cases:tasks", "cases:task_complete")
@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("htmx", [False, True])
def test_task_inbox_and_complete(as_user, case, who, htmx):
    task = f.TaskFactory(case=case, role="coordinator")
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    client = as_user(who)
    inbox = client.get(reverse("cases:tasks") + "?tab=unassigned")
    if who == "anonymous":
        assert inbox.status_code == 302
    else:
        assert inbox.status_code == 200
        # an unassigned coordinator task: in the coordinator's "Unassigned" tab, nobody else's
        assert (f'id="task-{task.pk}"' in inbox.content.decode()) == (who == "coordinator")
    response = client.post(reverse("cases:task_complete", args=[task.pk]), {}, **headers)
    task.refresh_from_db()
    if _expect_hidden_or_login(response, who):
        assert task.done_at is None
    elif who in {"coordinator", "manager"}:
        assert response.status_code == (200 if htmx else 302)
        assert task.done_at is not None
    else:
        assert response.status_code == 403
        assert task.done_at is None


def test_clinician_sees_only_own_cases_in_the_queue(client, case, owner_clinician, other_clinician):
    case.status = Status.NEEDS_CLINICIAN
    case.save()
    client.force_login(owner_clinician)
    assert f'id="case-{case.pk}"' in client.get(reverse("cases:queue")).content.decode()
    client.force_login(other_clinician)
    assert f'id="case-{case.pk}"' not in client.get(reverse("cases:queue")).content.decode()
