"""Access matrix and content of the simulation page under the dashboard (managers only)."""

import json

import pytest
from django.urls import reverse

from tests.access_matrix import USERS, covers

MANAGERS = {"manager", "outsider"}  # synthetic figures, no practice's data: any practice's manager


def _stored(directory, mode, **figures):
    base = {"seed": 1, "providers": 2, "days": 5, "mode": mode, "backlog": [["2026-03-16", 3], ["2026-03-17", 5]]}
    (directory / "simulations").mkdir(exist_ok=True)
    path = directory / "simulations" / f"20260316T000000000000-seed1-2p5d-{mode}.json"
    path.write_text(json.dumps({**base, **figures}))


@covers("metrics:simulation")
@pytest.mark.django_db
@pytest.mark.parametrize("who", USERS)
def test_simulation_page(as_user, who, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    response = as_user(who).get(reverse("metrics:simulation"))
    if who == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
    else:
        assert response.status_code == (200 if who in MANAGERS else 403)


@pytest.mark.django_db
def test_page_shows_both_runs_side_by_side_with_charts(client, manager, settings, tmp_path):
    # given a stored automated and manual run of one seed, and a file that is not a run
    settings.MEDIA_ROOT = tmp_path
    _stored(
        tmp_path,
        "automated",
        staff_hours_per_provider_per_week=3.5,
        first_pass_approval=0.86,
        workers=2,
        elapsed_seconds=412.5,
        task_failures=0,
    )
    _stored(tmp_path, "manual", staff_hours_per_provider_per_week=14.2, first_pass_approval=0.64, workers=2)
    (tmp_path / "simulations" / "broken.json").write_text("{not json")
    client.force_login(manager)
    # when the manager opens the page
    response = client.get(reverse("metrics:simulation"))
    # then both runs' figures are side by side, with the SVG charts and no inline style or script
    body = response.content.decode()
    assert response.status_code == 200
    assert "14.2" in body and "3.5" in body and body.count("<svg") == 2
    # and how the run was made: its tasks on real workers, and how long it took
    assert "Cluster tasks on 2 real workers · 412.5 s for the automated run." in body
    # a figure the manual run was stored without (an older run) shows a dash, not "None"
    assert "None" not in body.split("<main", 1)[1]
    assert "style=" not in body.split("<main", 1)[1] and "<script>" not in body


@pytest.mark.django_db
def test_page_says_when_nothing_has_run(client, manager, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(manager)
    response = client.get(reverse("metrics:simulation"))
    assert response.status_code == 200 and 'id="sim-empty"' in response.content.decode()
