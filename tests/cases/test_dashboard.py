"""Each dashboard metric against a small hand-computed fixture, filters, access and CSV neutralisation."""

import csv
import datetime as dt
import io

import pytest

from cases.metrics.figures import Filters, dashboard_metrics
from cases.metrics.views import csv_safe
from cases.models import CaseEvent, Status, Urgency
from tests import factories as f
from tests.cases.conftest import NY

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=NY)
NOVEMBER = Filters(date_from=dt.date(2026, 11, 1), date_to=dt.date(2026, 11, 30))


def at(day, hour=9, month=11):
    return dt.datetime(2026, month, day, hour, 0, tzinfo=NY)


@pytest.fixture
def world(time_machine, practice, owner_provider, coordinator):
    """Five cases decided in November, one in October, three more open. See the test for the arithmetic."""
    time_machine.move_to(NOW, tick=False)
    medicare = f.PayerFactory(name="Harbor Medicare", cms_impacted=True)
    commercial = f.PayerFactory(name="Summit Commercial", cms_impacted=False)
    clinic = f.LocationFactory(practice=practice, name="North clinic")
    imaging_rule = f.PayerRuleFactory(payer=medicare, category="advanced_imaging")

    def case(payer, *, ordered, status, urgency=Urgency.STANDARD, scheduled=None, location=None, **fields):
        order = f.OrderFactory(
            practice=practice,
            ordering_provider=owner_provider,
            created_at=ordered,
            scheduled_date=scheduled,
            location=location,
        )
        return f.CaseFactory(order=order, payer=payer, status=status, urgency=urgency, created_at=ordered, **fields)

    def moves(c, *steps):
        for to, when, actor in steps:
            CaseEvent.objects.create(case=c, kind=CaseEvent.Kind.STATUS, to_status=to, created_at=when, actor=actor)

    c1 = case(
        medicare,
        ordered=at(2),
        status=Status.APPROVED,
        submitted_at=at(3),
        decided_at=at(5),
        scheduled=dt.date(2026, 11, 10),
        rule=imaging_rule,
    )
    moves(c1, (Status.SUBMITTED, at(3), coordinator), (Status.APPROVED, at(5), None))
    CaseEvent.objects.create(case=c1, kind=CaseEvent.Kind.NOTE, actor=coordinator, created_at=at(4), message="called")
    c2 = case(
        medicare,
        ordered=at(2),
        status=Status.APPROVED,
        submitted_at=at(3),
        decided_at=at(13),
        scheduled=dt.date(2026, 11, 12),
    )
    moves(c2, (Status.SUBMITTED, at(3), coordinator), (Status.PENDED, at(4), None), (Status.APPROVED, at(13), None))
    c3 = case(
        medicare,
        ordered=at(9),
        status=Status.DENIED,
        urgency=Urgency.EXPEDITED,
        submitted_at=at(10),
        decided_at=at(12),
        denial_reason_code="CO-197",
        denial_reason_text="Incomplete documentation",
    )
    moves(c3, (Status.SUBMITTED, at(10), coordinator), (Status.DENIED, at(12), None))
    # approved at 23:00 New York on Nov 19 = 04:00 UTC Nov 20: still "on the scheduled date" locally
    c4 = case(
        commercial,
        ordered=at(14),
        status=Status.APPROVED,
        submitted_at=at(15),
        decided_at=at(19, 23),
        scheduled=dt.date(2026, 11, 19),
        location=clinic,
    )
    moves(c4, (Status.SUBMITTED, at(15), None), (Status.APPROVED, at(19, 23), None))
    c5 = case(
        commercial,
        ordered=at(15),
        status=Status.DENIED,
        submitted_at=at(16),
        decided_at=at(20),
        denial_reason_code="N-115",
        denial_reason_text="Not covered under the plan",
    )
    moves(c5, (Status.SUBMITTED, at(16), coordinator), (Status.DENIED, at(20), None))
    # October: outside the period
    c6 = case(
        commercial,
        ordered=at(1, month=10),
        status=Status.CLOSED,
        submitted_at=at(2, month=10),
        decided_at=at(20, month=10),
        scheduled=dt.date(2026, 10, 30),
    )
    moves(c6, (Status.SUBMITTED, at(2, month=10), coordinator), (Status.APPROVED, at(20, month=10), None))
    # open, not decided
    case(commercial, ordered=at(30, 12), status=Status.GATHERING)
    case(commercial, ordered=at(20, 12), status=Status.SUBMITTED, submitted_at=at(21))
    case(medicare, ordered=at(1, 12, month=10), status=Status.PENDED, submitted_at=at(2, month=10))
    return {"medicare": medicare, "commercial": commercial, "clinic": clinic, "cases": [c1, c2, c3, c4, c5, c6]}


def test_metrics_match_the_hand_computed_fixture(world, practice, django_assert_max_num_queries):
    # decided queries (1) + touches (1) + 2 percentile queries + responses (1) + denial totals and reasons (2)
    # + backlog (2) + providers (1) + CMS (1) + scorecard (1) + payer responses (1) + medians (1) + reschedules (1)
    with django_assert_max_num_queries(16):
        m = dashboard_metrics(practice=practice, filters=NOVEMBER, now=NOW)
    # c1..c5 decided in November; human entries: c1 2, c2 1, c3 1, c4 0, c5 1
    assert m["decided"] == 5
    assert (m["touches"], m["touches_per_case"]) == (5, 1.0)
    # first pass: c1 and c4 (c2 pended, c3 and c5 denied)
    assert (m["first_pass"], m["first_pass_rate"]) == (2, 40.0)
    # submission → decision: 48, 240, 48, 110, 96 h → median 96, p90 = 110 + 0.6 × (240 − 110) = 188
    # order → decision: each 24 h more → median 120, p90 212
    assert m["time_to_decision"] == {
        "submission_median_hours": 96.0,
        "submission_p90_hours": 188.0,
        "order_median_hours": 120.0,
        "order_p90_hours": 212.0,
    }
    # responses in November: approved c1 c2 c4, pended c2, denied c3 c5 → 6
    assert m["responses_total"] == 6
    assert {r["status"]: (r["n"], r["rate"]) for r in m["responses"]} == {
        "approved": (3, 50.0),
        "partially_approved": (0, 0.0),
        "denied": (2, 33.3),
        "pended": (1, 16.7),
    }
    # denials: CO-197 (documentation, preventable) and N-115
    assert (m["denials"], m["denials_preventable"], m["preventable_share"]) == (2, 1, 50.0)
    assert [(r["code"], r["n"], r["preventable"]) for r in m["denial_reasons"]] == [
        ("CO-197", 1, True),
        ("N-115", 1, False),
    ]
    # backlog now: 3 open + the 2 denied (open until appealed or closed), ages 1, 11, 16.1, 22.1, 61 days
    assert m["backlog"]["open"] == 5
    assert m["backlog"]["ages"] == [("under 2 days", 1), ("2–7 days", 0), ("7–14 days", 1), ("over 14 days", 3)]
    assert m["backlog"]["median_age_days"] == 16.1
    assert (m["backlog"]["providers"], m["backlog"]["per_10_providers"]) == (1, 50.0)
    # CMS-0057-F, Harbor Medicare: c1 48 h standard ✓, c2 240 h standard ✗, c3 48 h expedited ✓
    assert m["cms"] == [{"payer": "Harbor Medicare", "decided": 3, "within": 2, "rate": 66.7}]
    assert m["scorecard"] == [
        {
            "payer": "Harbor Medicare",
            "decided": 3,
            "approval_rate": 50.0,
            "denial_rate": 25.0,
            "pend_rate": 25.0,
            "first_pass_rate": 33.3,
            "median_hours": 48.0,
            "cms_compliance": 66.7,
        },
        {
            "payer": "Summit Commercial",
            "decided": 2,
            "approval_rate": 50.0,
            "denial_rate": 50.0,
            "pend_rate": 0.0,
            "first_pass_rate": 50.0,
            "median_hours": 103.0,
            "cms_compliance": None,
        },
    ]
    # approvals with an appointment: c1 (before ✓), c2 (after ✗), c4 (same local day ✓)
    assert m["reschedules"] == {"with_appointment": 3, "avoided": 2, "rate": 66.7}


def test_filters_narrow_every_metric(world, practice, owner_provider):
    by_payer = dashboard_metrics(
        practice=practice, filters=Filters(**{**NOVEMBER.__dict__, "payer_id": world["medicare"].pk})
    )
    assert by_payer["decided"] == 3 and by_payer["backlog"]["open"] == 2 and by_payer["denials"] == 1
    by_category = dashboard_metrics(
        practice=practice, filters=Filters(**{**NOVEMBER.__dict__, "category": "advanced_imaging"})
    )
    assert by_category["decided"] == 1 and by_category["first_pass_rate"] == 100.0
    by_location = dashboard_metrics(
        practice=practice, filters=Filters(**{**NOVEMBER.__dict__, "location_id": world["clinic"].pk})
    )
    assert by_location["decided"] == 1 and by_location["reschedules"]["avoided"] == 1
    other = f.ProviderFactory(practice=practice)
    by_provider = dashboard_metrics(
        practice=practice, filters=Filters(**{**NOVEMBER.__dict__, "provider_id": other.pk})
    )
    assert by_provider["decided"] == 0 and by_provider["first_pass_rate"] is None
    assert by_provider["time_to_decision"]["submission_median_hours"] is None
    october = dashboard_metrics(practice=practice, filters=Filters(dt.date(2026, 10, 1), dt.date(2026, 10, 31)))
    assert october["decided"] == 1 and october["reschedules"]["avoided"] == 1


def test_dashboard_is_for_managers_only(world, client, manager, coordinator, front_desk, owner_clinician, outsider):
    for user in (coordinator, front_desk, owner_clinician):
        client.force_login(user)
        assert client.get("/dashboard/").status_code == 403  # a role refusal
    client.force_login(outsider)
    body = client.get("/dashboard/?date_from=2026-11-01&date_to=2026-11-30").content.decode()
    assert "Harbor Medicare" not in body.split('id="tiles"')[-1]
    client.force_login(manager)
    response = client.get("/dashboard/?date_from=2026-11-01&date_to=2026-11-30")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in body and 'id="metric-cms"' in body and "66.7%" in body
    assert "<script" not in body.split("</head>")[-1]


def test_bad_period_is_refused(world, client, manager):
    client.force_login(manager)
    response = client.get("/dashboard/?date_from=2026-11-30&date_to=2026-11-01")
    assert response.status_code == 400
    assert "ends before it starts" in response.content.decode()


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cell_neutralised(prefix):
    assert csv_safe(f"{prefix}cmd|' /C calc'!A0") == f"'{prefix}cmd|' /C calc'!A0"


def test_csv_cells_are_left_alone_otherwise():
    assert csv_safe("Harbor Medicare") == "Harbor Medicare"
    assert csv_safe(66.7) == "66.7"
    assert csv_safe(None) == ""


def test_csv_export_neutralises_payer_names_and_denial_reasons(world, client, manager):
    world["medicare"].name = '=HYPERLINK("http://evil.example","x")'
    world["medicare"].save()
    c5 = world["cases"][4]
    c5.denial_reason_text = "@SUM(1+1)*cmd"
    c5.save()
    client.force_login(manager)
    response = client.get("/dashboard/?date_from=2026-11-01&date_to=2026-11-30&export=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    cells = [cell for row in rows for cell in row]
    assert rows[0] == ["section", "item", "value"]
    assert '\'=HYPERLINK("http://evil.example","x")' in cells
    assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in cells)
    assert any(cell.startswith("N-115 @SUM") for cell in cells)  # not at the start of a cell: harmless
    assert ["decisions", "first-pass approval rate %", "40.0"] in rows
