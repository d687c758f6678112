"""The live case page (cases/live.py): the page's background poll answers 204 while the case is as the page
shows it, and every fragment once anything changed — by a person, a payer's answer or a task closing itself."""

import re

from django.urls import reverse

from cases import actions
from cases.models import Status
from cases.services import case_add_note
from tests import factories as f


def _version(html: str, case) -> str:
    match = re.search(rf'id="case-{case.pk}-live"[^>]*hx-get="[^"]*\?v=([0-9a-f]+)"', html)
    assert match, "the case page carries its poll with a version"
    return match.group(1)


def test_poll_is_204_while_unchanged_in_a_few_queries(client, case, coordinator, django_assert_max_num_queries):
    # given the case page as a coordinator sees it
    client.force_login(coordinator)
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    version = _version(page, case)
    assert 'X-Background-Poll": "1"' in page  # marked, so the idle logoff does not count it as activity
    # when the page polls and nothing changed
    # then 204 and nothing drawn. Queries: session, user, the user's practice (time zone middleware), the
    # user's roles, the case's stamp (ONE query for the case and all its related tables), then the session save
    # (SESSION_SAVE_EVERY_REQUEST: savepoint, update, release — a session middleware that honours
    # X-Background-Poll skips those three).
    with django_assert_max_num_queries(8):
        response = client.get(reverse("cases:live", args=[case.pk]) + f"?v={version}", HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response.content == b""


def test_poll_redraws_the_page_after_a_payer_decision(client, case, coordinator):
    # given a submitted case open in a coordinator's browser
    case.status = Status.SUBMITTED
    case.save()
    client.force_login(coordinator)
    version = _version(client.get(reverse("cases:detail", args=[case.pk])).content.decode(), case)
    # when the payer's approval is applied (as a background task would, through the one decision path)
    actions.case_record_outcome(
        case=case, actor=None, outcome="approved", authorization_number="AUTH-LIVE-1", effective_start=case.created_at
    )
    # then the poll answers with every fragment swapped by id, the new status, and a new version
    response = client.get(reverse("cases:live", args=[case.pk]) + f"?v={version}", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    for part in ("header", "packet", "summary", "decision", "tasks", "timeline", "live"):
        assert f'id="case-{case.pk}-{part}" hx-swap-oob="true"' in body or f'id="case-{case.pk}-{part}"' in body
    assert "AUTH-LIVE-1" in body and ">Approved<" in body
    assert _version(body, case) != version
    # a background poll does not consume the person's flash messages
    assert 'id="messages"' not in body


def test_any_timeline_line_changes_the_version(client, case, coordinator):
    client.force_login(coordinator)
    version = _version(client.get(reverse("cases:detail", args=[case.pk])).content.decode(), case)
    case_add_note(case=case, actor=coordinator, text="Called the payer")
    response = client.get(reverse("cases:live", args=[case.pk]) + f"?v={version}", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Called the payer" in response.content.decode()


def test_a_stale_attestation_is_refused_with_a_message(client, case, owner_clinician):
    # given a clinician who read one summary text
    case.status = Status.NEEDS_CLINICIAN
    case.summary_text, case.summary_source = "First text.", "staff"
    case.save()
    client.force_login(owner_clinician)
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    seen = re.search(r'name="version" value="([0-9a-f]+)"', page).group(1)
    # when the text changes before they press "I attest"
    case.summary_text = "Second text, with a new claim."
    case.save()
    response = client.post(reverse("cases:attest", args=[case.pk]), {"version": seen}, follow=True)
    # then nothing is attested and they are told to read it again
    case.refresh_from_db()
    assert not case.summary_is_attested
    assert "The summary changed since you read it" in response.content.decode()


def test_stale_buttons_are_refused_with_a_clear_message(client, case, coordinator, manager):
    # given a case that was ready when the page was drawn and has been submitted since
    case.status = Status.SUBMITTED
    case.save()
    f.gate_met(case)
    client.force_login(manager)
    response = client.post(reverse("cases:approve", args=[case.pk]), follow=True)
    assert response.status_code == 200
    assert "Only a case that is ready to submit can be approved; this one is &#x27;Submitted&#x27;." in (
        response.content.decode()
    )
    client.force_login(coordinator)
    response = client.post(reverse("cases:submit", args=[case.pk]), follow=True)
    assert "Only a case that is ready can be submitted; this one is &#x27;Submitted&#x27;." in (
        response.content.decode()
    )


def test_the_front_desk_page_follows_the_case_with_its_own_fragments_only(client, case, front_desk):
    # given a submitted case open on the front desk's scheduling page
    case.status = Status.SUBMITTED
    case.summary_text, case.summary_source = "Clinical summary the front desk must not see.", "staff"
    case.save()
    client.force_login(front_desk)
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    version = _version(page, case)  # the scheduling page polls too
    # when the payer's approval is applied by a background task
    actions.case_record_outcome(
        case=case, actor=None, outcome="approved", authorization_number="AUTH-FD-1", effective_start=case.created_at
    )
    # then its poll brings the scheduling header with the new status and a new version, and nothing clinical
    response = client.get(reverse("cases:live", args=[case.pk]) + f"?v={version}", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and ">Approved<" in body and _version(body, case) != version
    assert "Clinical summary" not in body
    for clinical in ("summary", "timeline", "packet", "decision"):
        assert f'id="case-{case.pk}-{clinical}"' not in body
    assert 'id="messages"' not in body
