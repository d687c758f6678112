"""What a person sees on a case page that follows its case (issue 16, items 1–3), in Chromium.

- the payer's decision, applied by a background task, appears on an open case page without a reload;
- once the missing note is uploaded, the summary no longer claims it is missing;
- a clinician's answer through the task's Done moves the case, and the coordinator's open page shows it.

A marker set on `window` before the change must survive it: no page load happened.
"""

import datetime as dt

import pytest
from django.utils import timezone

from cases.decisions import decision_apply
from cases.models import Status
from cases.readiness import case_reconcile
from integrations.base import DecisionStatus, PayerDecision
from tests import factories as f

pytestmark = pytest.mark.e2e


def _mark(page):
    page.evaluate("window.__noReload = 1")


def _not_reloaded(page):
    assert page.evaluate("window.__noReload") == 1


def _sign_in(page, live_server, user):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_login", user.username)
    page.fill("#id_password", "test-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/**")


@pytest.mark.django_db(transaction=True)
def test_the_payers_decision_appears_on_an_open_case_page(login, page, live_server, case, coordinator, owner_clinician):
    # given a submitted case open in the coordinator's browser
    f.gate_met(case, owner_clinician)
    case.status = Status.SUBMITTED
    case.submitted_at = timezone.now()
    case.decision_due_at = timezone.now() + dt.timedelta(days=7)
    case.save()
    login(coordinator)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    assert page.inner_text(f"#case-{case.pk}-status") == "Submitted"
    assert page.locator("summary:has-text('Record payer outcome')").is_visible()
    _mark(page)
    # when the payer's approval is applied in the background (as a status check would)
    decision_apply(
        case=case,
        decision=PayerDecision(
            status=DecisionStatus.APPROVED, authorization_number="AUTH-LIVE-42", effective_start=timezone.localdate()
        ),
        source="poll",
    )
    # then within seconds, without a reload, the page shows the decision and no longer offers the outcome form
    page.wait_for_selector(f"#case-{case.pk}-status:has-text('Approved')", timeout=10_000)
    assert page.inner_text(f"#case-{case.pk}-auth") == "AUTH-LIVE-42"
    assert page.locator(f"#case-{case.pk}-timeline").get_by_text("Approved").first.is_visible()
    assert page.locator("summary:has-text('Record payer outcome')").count() == 0
    _not_reloaded(page)


@pytest.mark.django_db(transaction=True)
def test_the_summary_stops_claiming_a_met_gap_is_missing(
    login, page, live_server, case, coordinator, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path
    # given a gathering case whose office note is missing, with its draft summary
    rule = f.PayerRuleFactory(payer=case.payer, criteria_reference="RAD-MRI-01")
    f.RequirementStatusFactory(case=case, requirement__rule=rule, requirement__description="Office note within 30 days")
    case.rule, case.status = rule, Status.GATHERING
    case.save()
    case_reconcile(case=case)
    login(coordinator)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    summary = page.locator(f"#case-{case.pk}-summary blockquote")
    assert "Still missing: Office note within 30 days." in summary.inner_text()
    assert page.locator(f"#case-{case.pk}-tasks").get_by_text("Missing: Office note within 30 days").is_visible()
    _mark(page)
    # when the coordinator uploads the note for that gap
    pdf = tmp_path / "note.pdf"
    pdf.write_bytes(f.PDF_BYTES)
    page.set_input_files("#upload-form input[type=file]", str(pdf))
    page.fill("#upload-form input[name=title]", "Office note 11/02")
    page.select_option("#upload-form select[name=requirement]", index=1)
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector(f"#case-{case.pk}-timeline >> text=Uploaded: Office note 11/02")
    # then the summary no longer says it is missing, the Missing task is gone, and the next step is named
    assert "Still missing" not in summary.inner_text()
    assert "Office note 11/02" in summary.inner_text()
    assert page.locator(f"#case-{case.pk}-tasks").get_by_text("Missing: Office note").count() == 0
    assert "Summary attestation by Dr." in page.inner_text(f"#case-{case.pk}-next")
    _not_reloaded(page)


@pytest.mark.django_db(transaction=True)
def test_a_clinicians_answer_moves_the_case(
    browser, login, page, live_server, case, coordinator, owner_clinician, screenshot
):
    # given a case waiting for the clinician's answer, with everything else in place, open in the coordinator's browser
    case.status, case.assignee = Status.GATHERING, coordinator
    case.save()
    f.gate_met(case, owner_clinician)
    from cases import actions

    actions.case_request_clinician_input(case=case, actor=coordinator, question="Were 6 weeks of PT completed?")
    coordinator_context = browser.new_context(viewport={"width": 1400, "height": 900})
    coordinator_page = coordinator_context.new_page()
    coordinator_page.set_default_timeout(10_000)
    _sign_in(coordinator_page, live_server, coordinator)
    coordinator_page.goto(f"{live_server.url}/cases/{case.pk}/")
    assert coordinator_page.inner_text(f"#case-{case.pk}-status") == "Needs clinician"
    _mark(coordinator_page)
    # when the clinician answers through the task's Done on the case page
    login(owner_clinician)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.fill(f"#case-{case.pk}-tasks input[name=note]", "Yes: PT Jan 4 to Feb 20, no improvement")
    page.click(f"#case-{case.pk}-tasks button:has-text('Done')")
    # then the clinician's page shows the case moved on
    page.wait_for_selector(f"#case-{case.pk}-status:has-text('Ready to submit')")
    # and the coordinator's open page follows: status, the answer on the timeline and a task to review it
    coordinator_page.wait_for_selector(f"#case-{case.pk}-status:has-text('Ready to submit')", timeout=10_000)
    timeline = coordinator_page.locator(f"#case-{case.pk}-timeline")
    assert timeline.get_by_text("PT Jan 4 to Feb 20, no improvement").first.is_visible()
    tasks = coordinator_page.locator(f"#case-{case.pk}-tasks")
    assert tasks.get_by_text("Review the clinician's answer").first.is_visible()
    assert "Manager approval" in coordinator_page.inner_text(f"#case-{case.pk}-next")
    _not_reloaded(coordinator_page)
    coordinator_context.close()


@pytest.mark.django_db(transaction=True)
def test_the_page_waits_while_someone_is_typing(login, page, live_server, case, coordinator, owner_clinician):
    # given a submitted case open in the coordinator's browser, who starts writing a note
    f.gate_met(case, owner_clinician)
    case.status = Status.SUBMITTED
    case.decision_due_at = timezone.now() + dt.timedelta(days=7)
    case.save()
    login(coordinator)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.click("summary:has-text('Add note')")
    page.fill(f"#note-{case.pk}", "Called the payer, they are reviewing")
    # when the payer decides meanwhile
    decision_apply(
        case=case,
        decision=PayerDecision(status=DecisionStatus.DENIED, reason_text="Not medically necessary"),
        source="poll",
    )
    # then what they typed is not thrown away by a refresh while they write
    page.wait_for_timeout(4_500)
    assert page.input_value(f"#note-{case.pk}") == "Called the payer, they are reviewing"
    assert page.inner_text(f"#case-{case.pk}-status") == "Submitted"
    # and once they send it, the page shows the case as it is now
    page.click(f"#note-{case.pk} ~ button:has-text('Add note')")
    page.wait_for_selector(f"#case-{case.pk}-status:has-text('Denied')")
    assert page.locator(f"#case-{case.pk}-timeline").get_by_text("Called the payer").first.is_visible()


@pytest.mark.django_db(transaction=True)
def test_the_front_desks_page_shows_the_approval_without_a_reload(login, page, live_server, case, front_desk):
    # given a submitted case open on the front desk's scheduling page
    case.status = Status.SUBMITTED
    case.submitted_at = timezone.now()
    case.decision_due_at = timezone.now() + dt.timedelta(days=7)
    case.save()
    login(front_desk)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    assert page.inner_text(f"#case-{case.pk}-status") == "Submitted"
    _mark(page)
    # when the payer's approval is applied in the background
    decision_apply(
        case=case,
        decision=PayerDecision(
            status=DecisionStatus.APPROVED, authorization_number="AUTH-FD-7", effective_start=timezone.localdate()
        ),
        source="poll",
    )
    # then within seconds, without a reload, their page says so — and still shows nothing clinical
    page.wait_for_selector(f"#case-{case.pk}-status:has-text('Approved')", timeout=10_000)
    assert page.locator(f"#case-{case.pk}-timeline").count() == 0
    assert page.locator(f"#case-{case.pk}-summary").count() == 0
    _not_reloaded(page)
