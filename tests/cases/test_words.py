"""Human words where staff look (issue 16, item 9): each asserted on the page a person reads."""

import datetime as dt
import html as htmllib
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.decisions import decision_apply
from cases.models import CaseEvent, Role, Status, Task
from cases.sweep.services import sweep_run
from cases.words import date_words, duration_words, plain_words
from integrations.base import DecisionStatus, PayerDecision
from integrations.submission.models import Submission
from tests import factories as f


def _text(response) -> str:
    """The page as a person reads it: tags dropped, whitespace collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return _text_of(html)


@pytest.mark.parametrize(
    ("hours", "said"),
    [
        (None, "—"),
        (0.4, "24 min"),
        (5, "5 h"),
        (5.25, "5 h 15 min"),
        (24, "1 d"),
        (52, "2 d 4 h"),
        (1492.5, "62 d 4 h"),
    ],
)
def test_durations_are_days_and_hours(hours, said):
    assert duration_words(hours) == said


def test_dates_are_written_as_staff_read_them():
    assert date_words(dt.date(2026, 3, 5)) == "Mar 5, 2026"
    assert date_words("2026-12-01") == "Dec 1, 2026"
    assert date_words(None) == ""


def test_a_pended_case_shows_the_payers_request_not_a_denial(client, coordinator, case):
    # given a case the payer pended with a request for information
    case.status = Status.PENDED
    case.denial_reason_text = "Submit the pathology report with staging."
    case.save()
    client.force_login(coordinator)
    # when the coordinator opens it
    page = _decision_panel(client.get(reverse("cases:detail", args=[case.pk])), case)
    # then the request is labelled as what it is
    assert "The payer asks for Submit the pathology report with staging." in page
    assert "Denial" not in page
    assert "Appeal by" not in page


def _decision_panel(response, case) -> str:
    html = response.content.decode()
    start = html.index(f'id="case-{case.pk}-decision"')
    return _text_of(html[start : html.index("</section>", start)])


def test_a_denied_case_shows_its_denial_reason(client, coordinator, case):
    case.status = Status.DENIED
    case.denial_reason_code = "CO-50"
    case.denial_reason_text = "Not medically necessary"
    case.appeal_deadline = dt.date(2026, 2, 1)
    case.save()
    client.force_login(coordinator)
    page = _decision_panel(client.get(reverse("cases:detail", args=[case.pk])), case)
    assert "Denial reason CO-50 Not medically necessary" in page
    assert "Appeal by Feb 1, 2026" in page


def test_the_channel_is_named_in_words(client, coordinator, case):
    # given a case going through the PAS channel
    case.channel = "pas"
    case.save()
    client.force_login(coordinator)
    page = _text(client.get(reverse("cases:detail", args=[case.pk])))
    assert "via payer API" in page
    assert "via pas" not in page


def test_the_header_names_the_role_in_words(client, front_desk):
    client.force_login(front_desk)
    page = _text(client.get(reverse("cases:queue")))
    assert "· Front desk" in page
    assert "Front_desk" not in page and "front_desk" not in page


def test_a_failed_submission_is_told_plainly_with_the_technical_line_on_the_timeline(client, coordinator, case):
    # given a submission the payer's API refused with a 503, as the engine records it
    case.channel = "pas"
    case.status = Status.READY
    case.save()
    sub = Submission.objects.create(
        case=case,
        channel="pas",
        idempotency_key=f"case-{case.pk}-1",
        state=Submission.State.FAILED,
        attempts=6,
        error="$submit: payer answered HTTP 503",
    )
    CaseEvent.objects.create(
        case=case,
        kind=CaseEvent.Kind.SUBMISSION,
        message="Submission failed after 6 attempt(s): $submit: payer answered HTTP 503",
        details={"submission_id": sub.pk},
    )
    client.force_login(coordinator)
    # when the coordinator opens the case
    response = client.get(reverse("cases:detail", args=[case.pk]))
    page = _text(response)
    # then the panel says what happened in words
    assert "Submission failed after 6 attempts: The payer's system was not available" in page
    # and the timeline says it too, keeping the technical original behind "Technical detail"
    html = response.content.decode()
    timeline = html[html.index(f'id="case-{case.pk}-timeline"') :]
    assert "the payer's system was not available" in _text_of(timeline)
    detail = re.search(r'<details class="tech"><summary>Technical detail</summary><code>(.*?)</code>', timeline)
    assert detail and "$submit: payer answered HTTP 503" in detail.group(1)
    # and nowhere else on the page
    assert html.count("HTTP 503") == 1


def _text_of(html: str) -> str:
    return htmllib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


@pytest.mark.parametrize(
    ("technical", "plain"),
    [
        ("$submit: payer answered HTTP 503", "The payer's system was not available"),
        ("$inquire: cannot reach the payer (ConnectionError)", "The payer's system could not be reached"),
        (
            "$submit: payer refused our credentials (HTTP 401): check the PAS connection",
            "The payer's system refused our sign-in: an admin must check the connection",
        ),
        ("token: the payer's token endpoint answered HTTP 500", "The payer's sign-in service was not available"),
        ("Submission requested (PAS)", "Submission requested (payer API)"),
        ("Submission requested (epa, by hand)", "Submission requested (ePA network, by hand)"),
    ],
)
def test_technical_errors_get_staff_words(technical, plain):
    assert plain_words(technical) == (plain, technical)


def test_words_without_anything_technical_are_left_alone():
    assert plain_words("Payer pended the request: additional information needed") == (
        "Payer pended the request: additional information needed",
        "",
    )


def test_a_denial_task_names_its_appeal_date_as_staff_read_it(case):
    # given a submitted case the payer denies with an appeal deadline
    case.status = Status.SUBMITTED
    case.submitted_at = timezone.now()
    case.save()
    decision = PayerDecision(
        status=DecisionStatus.DENIED,
        reason_code="CO-50",
        reason_text="Not medically necessary",
        decided_at=timezone.now(),
    )
    # when the decision is applied
    decision_apply(case=case, decision=decision, source="manual")
    case.refresh_from_db()
    # then the task's title has a readable date, not an ISO one
    task = Task.objects.get(case=case, kind=Task.Kind.WORK_DENIAL)
    assert task.title == f"Denied: decide on appeal by {date_words(case.appeal_deadline)}"
    assert not re.search(r"\d{4}-\d{2}-\d{2}", task.title)


def test_queue_bulk_assign_offers_only_people_who_work_cases_and_says_to_whom(client, manager, coordinator, case):
    # given a practice with a front desk, an admin and a clinician besides the coordinator and manager
    f.UserFactory(
        practice=manager.practice, username="desk2", first_name="Dana", last_name="Desk", roles=[Role.FRONT_DESK]
    )
    f.UserFactory(practice=manager.practice, username="adm", first_name="Ada", last_name="Admin", roles=[Role.ADMIN])
    f.UserFactory(practice=manager.practice, username="doc", first_name="Cal", last_name="Clin", roles=[Role.CLINICIAN])
    case.status = Status.GATHERING
    case.save()
    client.force_login(manager)
    # when the manager opens the queue
    html = client.get(reverse("cases:queue") + "?view=all").content.decode()
    options = re.search(r'<select name="to" id="bulk-to">(.*?)</select>', html, re.S).group(1)
    # then only coordinators and managers are offered
    assert coordinator.display() in options and manager.display() in options
    assert "Dana Desk" not in options and "Ada Admin" not in options and "Cal Clin" not in options
    # and assigning says to whom
    response = client.post(
        reverse("cases:bulk_assign"), {"cases": [case.pk], "to": f"user:{coordinator.pk}"}, follow=True
    )
    assert f"Assigned 1 case to {coordinator.display()}." in _text(response)


def test_queue_bulk_assign_refuses_an_unknown_role_with_a_message(client, manager, case):
    client.force_login(manager)
    response = client.post(reverse("cases:bulk_assign"), {"cases": [case.pk], "to": "role:janitor"}, follow=True)
    assert response.status_code == 200
    assert "Cases can only be spread over coordinators or managers." in _text(response)


def _sweep_cases(practice, provider):
    for status in (Status.READY, Status.READY, Status.GATHERING):
        order = f.OrderFactory(practice=practice, ordering_provider=provider)
        f.CaseFactory(order=order, status=status)


def test_the_first_sweep_shows_no_changes_beside_no_earlier_sweep(client, manager, practice, owner_provider):
    # given the practice's first sweep
    _sweep_cases(practice, owner_provider)
    sweep_run(practice=practice)
    client.force_login(manager)
    # when the manager opens it
    page = _text(client.get(reverse("sweep:page")))
    # then it says there is nothing to compare with, and no tab claims changes
    assert "No earlier sweep to compare with." in page
    assert "▲" not in page and " new · " not in page and "since the previous" not in page


def test_a_second_sweep_says_what_changed_in_words(client, manager, practice, owner_provider):
    _sweep_cases(practice, owner_provider)
    first = sweep_run(practice=practice)
    first.run_date = first.run_date - dt.timedelta(days=1)
    first.save(update_fields=["run_date"])
    order = f.OrderFactory(practice=practice, ordering_provider=owner_provider)
    f.CaseFactory(order=order, status=Status.READY)
    sweep_run(practice=practice)
    client.force_login(manager)
    html = client.get(reverse("sweep:page")).content.decode()
    tab = re.search(r'id="tab-ready_to_submit".*?</a>', html, re.S).group(0)
    assert re.search(r"1 new · 0 gone since \w{3}", _text_of(tab))


def test_a_sweep_tab_swaps_tabs_and_bucket_together(client, manager, practice, owner_provider):
    # given a sweep with two non-empty buckets
    _sweep_cases(practice, owner_provider)
    sweep_run(practice=practice)
    client.force_login(manager)
    page = client.get(reverse("sweep:page")).content.decode()
    assert page.count('id="sweep-bucket"') == 1 and page.count('id="sweep-body"') == 1
    # when the manager clicks the "missing documentation" tab (htmx)
    tab = re.search(r'id="tab-missing_documentation"[^>]*>', page).group(0)
    assert 'hx-target="#sweep-body"' in tab and 'hx-swap="outerHTML"' in tab
    answer = client.get(reverse("sweep:page") + "?bucket=missing_documentation", HTTP_HX_REQUEST="true")
    html = answer.content.decode()
    # then the answer replaces tabs and bucket as one piece: one section, and the clicked tab is current
    assert html.count('id="sweep-body"') == 1 and html.count('id="sweep-bucket"') == 1
    current = re.findall(r'id="tab-(\w+)"[^>]*class="bucket-tab current"', html)
    assert current == ["missing_documentation"]
    assert html.count('aria-current="page"') == 1


def test_the_dashboard_gives_durations_in_days_and_hours_and_no_source_file(client, manager, practice, owner_provider):
    # given a case decided 62 days and 4 hours after it was submitted
    now = timezone.now()
    order = f.OrderFactory(practice=practice, ordering_provider=owner_provider)
    f.CaseFactory(
        order=order,
        status=Status.APPROVED,
        submitted_at=now - dt.timedelta(hours=1492.5),
        decided_at=now - dt.timedelta(hours=0.5),
    )
    client.force_login(manager)
    page = _text(client.get(reverse("metrics:dashboard")))
    assert "Median submission → decision 62 d 4 h" in page
    assert "1492" not in page
    assert "metrics.py" not in page and "figures.py" not in page
    assert "How these figures are counted" in page
