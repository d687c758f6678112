"""Logs and health: one JSON line per event with the request's id, and the endpoints a load balancer polls.

Log lines carry ids, paths and outcomes, never names, birth dates or clinical content (a convention test
checks log calls that format patient fields). Django's own request log names only the path (case ids), not the
query string.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import uuid

from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Take the proxy's X-Request-ID (when it looks like an id) or make one; log lines and the response carry it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        rid = given if _SAFE_ID.match(given) else uuid.uuid4().hex[:16]
        request.request_id = rid  # for django.request's log records, written after this middleware returns
        token = request_id_var.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = rid
        return response


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "request_id", None) or request_id_var.get()
        return True


class ExpectedSandboxFailures(logging.Filter):
    """The built-in sandbox payer answers 503 on purpose (backoff, the breaker): log those at INFO, not ERROR.

    A failing health check is a WARNING: the load balancer polls it every few seconds and the outage it
    reports is logged by whatever caused it.
    """

    def filter(self, record):
        if getattr(record, "status_code", None) == 503:
            path = _record_path(record)
            if path.startswith("/sandbox/"):
                record.levelno, record.levelname = logging.INFO, "INFO"
            elif path.startswith("/healthz/"):
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _record_path(record) -> str:
    """The path of a django.request record (its HttpRequest) or of a development-server line
    (django.server: the request line "GET /path HTTP/1.1" is its first argument)."""
    path = getattr(getattr(record, "request", None), "path", None)
    if isinstance(path, str):
        return path
    if record.args and isinstance(record.args, tuple) and isinstance(record.args[0], str):
        parts = record.args[0].split(" ")
        return parts[1] if len(parts) > 1 else ""
    return ""


class JsonLineFormatter(logging.Formatter):
    """One line per event: time, level, logger, request id, message (and the exception, newlines escaped)."""

    def format(self, record):
        line = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "msg": record.getMessage(),
        }
        if getattr(record, "status_code", None):
            line["status"] = record.status_code
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


@never_cache
def health_web(request):
    """The web process answers and reaches its database."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any database failure means unhealthy
        logging.getLogger(__name__).exception("health: database unreachable")
        return JsonResponse({"status": "fail", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok"})


@never_cache
def health_cluster(request):
    """The django-q2 cluster is taking work: the one heartbeat (integrations/submission/liveness.py) is fresh.

    The same reading as the managers' "background work is stalled" banner and `manage.py qsupervise`: a
    load balancer, the banner and the supervisor never disagree about whether the cluster is alive.
    """
    from integrations.submission.liveness import STALE_AFTER, last_beat

    last = last_beat()
    age = (timezone.now() - last).total_seconds() if last else None
    ok = last is not None and age <= STALE_AFTER.total_seconds()
    body = {"status": "ok" if ok else "fail", "last_heartbeat": last.isoformat() if last else None, "age_seconds": age}
    return JsonResponse(body, status=200 if ok else 503)


def heartbeat() -> str:
    """Kept for a schedule made by an older release (cases 0010) until `submission 0008` removes it: the one
    heartbeat is `integrations.submission.liveness.heartbeat`."""
    from integrations.submission.liveness import heartbeat as beat

    return beat()
