"""Managers see when background work has stalled (issue 21, 1)."""

from datetime import timedelta

from django.utils import timezone

from integrations.submission.liveness import STALE_AFTER, heartbeat, liveness_status
from integrations.submission.models import Heartbeat


def test_a_stale_heartbeat_shows_managers_the_banner(client, manager, coordinator):
    # Given the last heartbeat ran longer ago than the threshold
    heartbeat()
    beat = timezone.now() - STALE_AFTER - timedelta(minutes=1)
    Heartbeat.objects.filter(name="cluster").update(beat_at=beat)
    # Then a manager's page says since when
    client.force_login(manager)
    body = client.get("/").content.decode()
    assert "Background work is stalled since " + timezone.localtime(beat).strftime("%H:%M") in body
    # And a coordinator's does not (they cannot act on it)
    client.force_login(coordinator)
    assert "Background work is stalled" not in client.get("/").content.decode()


def test_a_fresh_heartbeat_or_none_at_all_shows_nothing(client, manager):
    client.force_login(manager)
    assert "Background work is stalled" not in client.get("/").content.decode()  # never ran: unknown
    heartbeat()
    assert not liveness_status().stalled
    assert "Background work is stalled" not in client.get("/").content.decode()
