"""270/271: the answer read (files by others and the sandbox's), stored on the case, gaps opened and closed."""

from datetime import date

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import Task
from integrations.x12_278.eligibility import eligibility_check
from integrations.x12_278.models import EligibilityCheck, Interchange
from integrations.x12_278.parse import X12ResponseError, parse_271
from tests import factories as f
from tests.integrations.x12_278.conftest import fixture, x12_case


def test_271_files_written_by_others():
    active = parse_271(fixture("interop_tools_271_basic.x12"))
    assert active.result == "active" and active.plan_name == "Gold Plan"
    rejected = parse_271(fixture("interop_tools_271_rejected.x12"))
    assert rejected.result == "rejected"
    assert "reason 72 (invalid/missing subscriber/insured ID)" in rejected.payer_words
    assert "correct and resubmit" in rejected.payer_words


def test_271_without_eb_is_unreadable():
    text = fixture("interop_tools_271_basic.x12")
    text = text.replace("EB*1*IND*30*HM*Gold Plan*******Y~EB*1*IND*88*HM*Dental Plan*******Y~", "")
    text = text.replace("SE*15*", "SE*13*")
    with pytest.raises(X12ResponseError, match="no EB"):
        parse_271(text)


pytestmark_live = pytest.mark.django_db(transaction=True)


@pytestmark_live
def test_active_coverage_is_recorded_on_the_case(sandboxed, route, practice, owner_provider):
    plan = f.PlanFactory(payer=route.payer, name="Bayside Gold HMO")
    case = x12_case(practice, owner_provider, route.payer, status="gathering")
    case.order.coverage.plan = plan
    case.order.coverage.start = date(2026, 1, 1)
    case.order.coverage.save()
    case.plan = plan
    case.save()
    check = eligibility_check(case=case)
    assert check.result == EligibilityCheck.Result.ACTIVE
    assert (check.plan_name, check.group_number, check.coverage_start) == (
        "BAYSIDE GOLD HMO",
        "GRP77",
        date(2026, 1, 1),
    )
    assert Interchange.objects.get(kind="270").payload.count("EQ*30") == 1
    assert case.events.filter(message__startswith="Eligibility confirmed").exists()


@pytestmark_live
@pytest.mark.parametrize(
    "member_id,result,words",
    [
        ("W9-INACTIVE", EligibilityCheck.Result.INACTIVE, "COVERAGE TERMINATED"),
        ("W9-NOTFOUND", EligibilityCheck.Result.NOT_FOUND, "reason 75"),
    ],
)
def test_inactive_or_unknown_member_is_a_coverage_gap(
    sandboxed, route, practice, owner_provider, member_id, result, words
):
    case = x12_case(practice, owner_provider, route.payer, member_id=member_id, status="gathering")
    check = eligibility_check(case=case)
    assert check.result == result and words in check.payer_words
    gap = Task.objects.get(case=case, kind=Task.Kind.CLOSE_GAP, done_at__isnull=True)
    assert gap.title.startswith("Coverage gap") and words in gap.detail
    # a second answer while the gap is open does not open a second one
    eligibility_check(case=case)
    assert Task.objects.filter(case=case, kind=Task.Kind.CLOSE_GAP, done_at__isnull=True).count() == 1
    # fixed member id, check again: active closes the gap
    case.order.coverage.member_id = "W9-FIXED"
    case.order.coverage.save()
    assert eligibility_check(case=case).result == EligibilityCheck.Result.ACTIVE
    assert not Task.objects.filter(case=case, kind=Task.Kind.CLOSE_GAP, done_at__isnull=True).exists()


@pytestmark_live
def test_a_different_plan_is_a_gap(sandboxed, route, practice, owner_provider):
    on_file = f.PlanFactory(payer=route.payer, name="Bayside Silver PPO")
    case = x12_case(practice, owner_provider, route.payer, status="gathering")
    case.order.coverage.plan = f.PlanFactory(payer=route.payer, name="Bayside Gold HMO")
    case.order.coverage.save()
    case.plan = on_file
    case.save()
    assert eligibility_check(case=case).result == EligibilityCheck.Result.WRONG_PLAN
    assert "different plan" in Task.objects.get(case=case, kind=Task.Kind.CLOSE_GAP).title


@pytestmark_live
def test_a_clearinghouse_failure_is_recorded_not_raised(route, clearinghouse, practice, owner_provider):
    case = x12_case(practice, owner_provider, route.payer, status="gathering")
    check = eligibility_check(case=case)  # endpoint 127.0.0.1:9 refuses connections
    assert check.result == EligibilityCheck.Result.ERROR and "cannot reach" in check.payer_words


@pytestmark_live
def test_checked_when_a_case_opens(sandboxed, route, practice, owner_provider, q_sync):
    case = x12_case(practice, owner_provider, route.payer, status="new")
    assert case.eligibility_checks.get().result == EligibilityCheck.Result.ACTIVE


@pytestmark_live
def test_staff_rerun_it_from_the_case_page(
    sandboxed, route, practice, owner_provider, coordinator, owner_clinician, client, q_sync
):
    case = x12_case(practice, owner_provider, route.payer, status="gathering")
    before = case.eligibility_checks.count()
    url = reverse("x12_278:case_eligibility", args=[case.pk])
    client.force_login(owner_clinician)
    assert client.post(url).status_code == 403  # clinicians do not verify coverage
    client.force_login(coordinator)
    response = client.post(url)
    assert response.status_code == 302
    assert case.eligibility_checks.count() == before + 1
    page = client.get(reverse("cases:detail", args=[case.pk]))
    assert b"Check eligibility" in page.content and b"Active coverage" in page.content


@pytestmark_live
def test_rechecked_before_submission_when_older_than_a_day(sandboxed, route, practice, owner_provider, coordinator):
    from integrations.submission.services import submission_request, submission_send

    case = x12_case(practice, owner_provider, route.payer, member_id="W5-A1")
    old = EligibilityCheck.objects.create(case=case, result="active", checked_at=timezone.now())
    EligibilityCheck.objects.filter(pk=old.pk).update(checked_at=timezone.now() - timezone.timedelta(days=2))
    sub = submission_request(case=case, actor=coordinator)
    submission_send(submission_id=sub.pk)
    assert case.eligibility_checks.count() == 2
    # a fresh answer is not asked again
    case.refresh_from_db()
    from integrations.x12_278.eligibility import eligibility_check_if_stale

    eligibility_check_if_stale(case=case, route=route)
    assert case.eligibility_checks.count() == 2
