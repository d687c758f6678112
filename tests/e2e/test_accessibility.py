"""axe-core on the pages staff work in, as each role that sees them (issue 16): no serious or critical violation.

axe-core comes from npm (`package.json`, installed by `npm ci`). It is evaluated
in the page through the DevTools protocol, so the page's strict CSP stays on
(an injected <script> tag would be refused by it, as it should be).
"""

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from cases.models import CaseEvent, Role, Status
from cases.sweep.services import sweep_run
from tests import factories as f

pytestmark = pytest.mark.e2e

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}


def axe_violations(page) -> list[str]:
    """Run axe on the page as it is now; one line per serious/critical violation and node."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (axe-core is in package.json)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    lines = []
    for v in result["violations"]:
        if v["impact"] in BLOCKING:
            for node in v["nodes"][:5]:
                lines.append(f"{v['impact']} {v['id']}: {v['help']} @ {node['target']} :: {node['html'][:160]}")
    return lines


@pytest.fixture
def a11y_case(practice, owner_provider, payer, front_desk, settings, tmp_path):
    """A practice with work in every place the pages show: gaps, tasks, timeline, a sweep."""
    settings.MEDIA_ROOT = tmp_path
    now = timezone.now()
    rule = f.PayerRuleFactory(payer=payer, channel="pas", criteria_reference="RAD-MRI-01")
    order = f.OrderFactory(
        practice=practice,
        ordering_provider=owner_provider,
        patient__last_name="Quintero",
        patient__first_name="Ana",
        scheduled_date=timezone.localdate() + dt.timedelta(days=2),
    )
    case = f.CaseFactory(
        order=order,
        payer=payer,
        rule=rule,
        channel="pas",
        status=Status.NEEDS_CLINICIAN,
        summary_text="Headache for 8 weeks despite two medication trials.",
        summary_source="template",
    )
    f.RequirementStatusFactory(case=case, requirement__rule=rule, requirement__description="Office note within 30 days")
    tomorrow = now + dt.timedelta(days=1)
    f.TaskFactory(case=case, title="Clinical input: office note", role=Role.CLINICIAN, due_at=tomorrow)
    f.TaskFactory(case=case, title="Close the gap", role=Role.COORDINATOR, due_at=now - dt.timedelta(hours=2))
    CaseEvent.objects.create(
        case=case,
        kind=CaseEvent.Kind.SUBMISSION,
        message="Submission attempt 1 did not go through, retry at 10:05: $submit: payer answered HTTP 503",
    )
    for name, status, extra in [
        ("Baker", Status.SUBMITTED, {"decision_due_at": now + dt.timedelta(hours=20)}),
        ("Chen", Status.READY, {"urgency": "expedited"}),
        ("Diaz", Status.DENIED, {"appeal_deadline": now.date() + dt.timedelta(days=40), "decided_at": now}),
        ("Evans", Status.PENDED, {"decision_due_at": now - dt.timedelta(hours=3)}),
    ]:
        other = f.OrderFactory(
            practice=practice,
            ordering_provider=owner_provider,
            patient__last_name=name,
            scheduled_date=timezone.localdate() + dt.timedelta(days=1),
        )
        f.CaseFactory(order=other, payer=payer, status=status, **extra)
    sweep_run(practice=practice)
    return case


PAGES = {
    # role fixture -> pages it opens (the dashboard is the managers')
    "coordinator": ["/", "case", "/sweep/", "/tasks/"],
    "manager": ["/", "case", "/sweep/", "/dashboard/", "/tasks/"],
    "owner_clinician": ["/", "case", "/sweep/", "/tasks/"],
    "front_desk": ["/", "/sweep/", "/tasks/"],
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", list(PAGES))
def test_no_serious_accessibility_violations(request, role, login, page, live_server, a11y_case):
    # given a signed-in user of that role
    login(request.getfixturevalue(role))
    found = []
    for path in PAGES[role]:
        url = f"{live_server.url}/cases/{a11y_case.pk}/" if path == "case" else f"{live_server.url}{path}"
        # when they open each page they work in (at desktop width, then at 390 px)
        for width in (1400, 390):
            page.set_viewport_size({"width": width, "height": 900})
            response = page.goto(url)
            assert response.status, url
            page.wait_for_load_state("networkidle")
            # then axe finds nothing serious or critical
            found += [f"{path} @{width}px: {line}" for line in axe_violations(page)]
    assert found == [], "\n".join(found)
