"""The queue's counts per status (issue 16, item 10): one aggregate query, the other filters applied."""

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.models import Status
from tests import factories as f


def _counts(html: str) -> dict[str, int]:
    nav = re.search(r'<nav class="status-counts".*?</nav>', html, re.S).group(0)
    return {key: int(n) for key, n in re.findall(r'id="count-(\w+)"[^>]*>[^<]*<b>(\d+)</b>', nav)}


def _make(practice, provider, payer, status, n):
    for _ in range(n):
        order = f.OrderFactory(practice=practice, ordering_provider=provider)
        f.CaseFactory(order=order, payer=payer, status=status)


def test_queue_shows_counts_per_status_for_the_current_filters(client, manager, practice, owner_provider, payer):
    # given 3 gathering, 2 ready and 1 pended case of one payer, and 4 ready cases of another
    other = f.PayerFactory(name="Other Health")
    _make(practice, owner_provider, payer, Status.GATHERING, 3)
    _make(practice, owner_provider, payer, Status.READY, 2)
    _make(practice, owner_provider, payer, Status.PENDED, 1)
    _make(practice, owner_provider, other, Status.READY, 4)
    _make(practice, owner_provider, payer, Status.APPROVED, 2)  # closed: not in the queue
    client.force_login(manager)
    # when the manager opens the whole queue
    counts = _counts(client.get(reverse("cases:queue") + "?view=all").content.decode())
    # then each status group has its count
    assert counts == {
        "intake": 0,
        "gathering": 3,
        "clinician": 0,
        "ready": 6,
        "with_payer": 0,
        "pended": 1,
        "denied": 0,
    }
    # and with a payer filter the counts follow it, while choosing a status keeps the others visible
    url = reverse("cases:queue") + f"?view=all&payer={payer.pk}&bucket=ready"
    html = client.get(url).content.decode()
    assert _counts(html)["ready"] == 2 and _counts(html)["gathering"] == 3
    assert re.search(r'id="count-ready"[^>]*aria-current="true"', html)
    href = re.search(r'<a href="([^"]*)" id="count-gathering"', html).group(1)
    assert href.endswith(f"payer={payer.pk}&amp;bucket=gathering")


def test_counts_per_status_are_one_query(client, manager, practice, owner_provider, payer):
    _make(practice, owner_provider, payer, Status.READY, 3)
    client.force_login(manager)
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("cases:queue") + "?view=all")
    grouped = [q["sql"] for q in ctx.captured_queries if "GROUP BY" in q["sql"] and '"status"' in q["sql"]]
    assert len(grouped) == 1
