"""Health endpoints (no login, no PHI) and the log format: one JSON line, request id, sandbox 503s at INFO."""

import datetime as dt
import json
import logging

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from integrations.submission.liveness import heartbeat
from integrations.submission.models import Heartbeat
from priorauth.observability import ExpectedSandboxFailures, JsonLineFormatter, RequestIdFilter
from tests.access_matrix import USERS, covers


@covers("health_web")
@pytest.mark.parametrize("who", USERS)
def test_web_health_is_open_and_checks_the_database(as_user, who):
    response = as_user(who).get(reverse("health_web"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["X-Request-ID"]


def _beat(when):
    Heartbeat.objects.update_or_create(name="cluster", defaults={"beat_at": when})


@covers("health_cluster")
@pytest.mark.parametrize("who", USERS)
def test_cluster_health_follows_the_heartbeat(as_user, who):
    client = as_user(who)
    # given no heartbeat yet: unhealthy
    assert client.get(reverse("health_cluster")).status_code == 503
    # given a beat 5 minutes ago: still unhealthy (three missed minutes)
    _beat(timezone.now() - dt.timedelta(minutes=5))
    assert client.get(reverse("health_cluster")).status_code == 503
    # given the task ran a minute ago: healthy
    _beat(timezone.now() - dt.timedelta(minutes=1))
    response = client.get(reverse("health_cluster"))
    assert response.status_code == 200 and response.json()["status"] == "ok"
    # given the stale beat again, then the heartbeat task runs (what the schedule and qsupervise enqueue): healthy
    _beat(timezone.now() - dt.timedelta(minutes=5))
    heartbeat()
    assert client.get(reverse("health_cluster")).json()["age_seconds"] < 60


def test_a_given_request_id_is_kept_and_a_bad_one_replaced(client):
    assert client.get(reverse("health_web"), HTTP_X_REQUEST_ID="lb-123.abc")["X-Request-ID"] == "lb-123.abc"
    assert client.get(reverse("health_web"), HTTP_X_REQUEST_ID="bad id\n")["X-Request-ID"] != "bad id\n"


def _record(path, status, level=logging.ERROR):
    record = logging.LogRecord("django.request", level, __file__, 1, "Service Unavailable: %s", (path,), None)
    record.status_code = status
    record.request = RequestFactory().get(path)
    return record


def test_the_sandbox_payers_503s_are_info_and_real_errors_stay_errors():
    f = ExpectedSandboxFailures()
    sandbox = _record("/sandbox/payer/harbor/fhir/Claim/$submit", 503)
    assert f.filter(sandbox) and sandbox.levelno == logging.INFO
    real = _record("/cases/12/", 503)
    assert f.filter(real) and real.levelno == logging.ERROR
    crash = _record("/sandbox/payer/harbor/fhir/Claim/$submit", 500)
    assert f.filter(crash) and crash.levelno == logging.ERROR
    probe = _record("/healthz/cluster/", 503)
    assert f.filter(probe) and probe.levelno == logging.WARNING


def test_django_request_log_records_carry_the_request_id():
    record = _record("/cases/12/", 404)
    record.request.request_id = "rid-1"
    RequestIdFilter().filter(record)
    assert record.request_id == "rid-1"


def test_a_log_event_is_one_json_line_with_its_request_id():
    record = _record("/cases/12/", 503)
    record.request_id = "abc123"
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    line = JsonLineFormatter().format(record)
    assert "\n" not in line
    event = json.loads(line)
    assert event["request_id"] == "abc123" and event["level"] == "ERROR" and event["status"] == 503
    assert "ValueError: boom" in event["exc"]


def test_the_development_servers_lines_follow_the_log_level_and_the_sandbox_503s_are_info():
    # given a line as `runserver` logs it (django.server: the request line is its first argument, the
    # record's `request` is the socket, not an HttpRequest)
    def server_line(request_line, status):
        record = logging.LogRecord(
            "django.server", logging.ERROR, __file__, 1, '"%s" %s %s', (request_line, status, 9), None
        )
        record.status_code, record.request = int(status), object()
        return record

    f = ExpectedSandboxFailures()
    sandbox = server_line("POST /sandbox/payer/harbor/fhir/Claim/$submit HTTP/1.1", "503")
    assert f.filter(sandbox) and sandbox.levelno == logging.INFO
    real = server_line("GET /cases/12/ HTTP/1.1", "503")
    assert f.filter(real) and real.levelno == logging.ERROR
    # and the dev server's logger is configured at LOG_LEVEL with that filter, not Django's INFO default
    from django.conf import settings

    server = settings.LOGGING["loggers"]["django.server"]
    assert server["level"] == settings.LOG_LEVEL and "expected_sandbox_failures" in server["filters"]
    assert logging.getLogger("django.server").getEffectiveLevel() == logging.getLevelName(settings.LOG_LEVEL)
