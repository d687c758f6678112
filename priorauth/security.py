"""Sign-in, lockout, session lifetime and response headers (README "Security").

- `MfaRequiredMiddleware`: with DEMO_MODE off, a signed-in session reaches nothing but the enrolment pages until
  it has passed a second factor (django-allauth's MFA stage at sign-in, or enrolling one in this session).
- `SessionLifetimeMiddleware`: automatic logoff after SESSION_IDLE_SECONDS without a person's request and after
  SESSION_ABSOLUTE_SECONDS whatever happened; a request with `X-Background-Poll: 1` renews nothing.
- `SecurityHeadersMiddleware`: Content-Security-Policy and Permissions-Policy on every response.
- django-axes hooks: the lockout page, the client address, and an audit entry per lockout and per unlock.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import get_authentication_records
from allauth.mfa.models import Authenticator
from allauth.mfa.signals import authenticator_added
from auditlog.models import LogEntry
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import get_user_model, logout
from django.dispatch import receiver
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

log = logging.getLogger(__name__)

# The one marker of a request no person made (an htmx `every Ns` poll): shared with every polling element.
BACKGROUND_POLL_HEADER = "HTTP_X_BACKGROUND_POLL"
SESSION_STARTED = "security_started_at"
SESSION_ACTIVE = "security_active_at"
SESSION_MFA_ENROLLED = "security_mfa_enrolled"

# No inline script or style anywhere (tests/test_conventions.py keeps templates so); images may be data: URIs
# because allauth draws the TOTP QR code as one.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Nothing here uses a camera, microphone, location or payment; WebAuthn (passkeys) stays allowed for this origin.
# Only features browsers know: Chromium logs a console error on every page for an unknown one (it dropped
# "bluetooth"; Web Bluetooth has no policy switch there), which buries real errors (tests/e2e/test_login.py).
PERMISSIONS_POLICY = ", ".join(
    [
        "camera=()",
        "microphone=()",
        "geolocation=()",
        "payment=()",
        "usb=()",
        "serial=()",
        "interest-cohort=()",
        "publickey-credentials-get=(self)",
        "publickey-credentials-create=(self)",
    ]
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


def is_background_poll(request) -> bool:
    return request.META.get(BACKGROUND_POLL_HEADER) == "1"


def _signed_out(request, reason: str) -> HttpResponse:
    logout(request)
    login_url = reverse("login")
    if request.headers.get("HX-Request"):
        # An htmx swap would put the sign-in page inside the case page: send the whole window there.
        response = HttpResponse(status=200)
        response["HX-Redirect"] = login_url
        return response
    return HttpResponseRedirect(f"{login_url}?signed_out={reason}")


class SessionLifetimeMiddleware:
    """Automatic logoff: idle and absolute lifetimes, renewed only by a person's requests.

    Django's own expiry renews on every saved request (SESSION_SAVE_EVERY_REQUEST) and cannot tell a click from
    a poll; here the session keeps when it started and when its person last acted, and only a request without
    `X-Background-Poll: 1` moves the second.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            started = request.session.get(SESSION_STARTED)
            active = request.session.get(SESSION_ACTIVE)
            if started is None or active is None:
                # The first request of a session (sign-in, or a session from before this middleware).
                request.session[SESSION_STARTED] = started = now
                request.session[SESSION_ACTIVE] = active = now
            if now - started >= settings.SESSION_ABSOLUTE_SECONDS:
                return _signed_out(request, "lifetime")
            if now - active >= settings.SESSION_IDLE_SECONDS:
                return _signed_out(request, "idle")
            if not is_background_poll(request):
                request.session[SESSION_ACTIVE] = now
        return self.get_response(request)


@require_POST
def session_keepalive(request):
    """The "stay signed in" button of the idle warning: a person's action, so the middleware renewed the timer."""
    return JsonResponse({"idle_seconds": settings.SESSION_IDLE_SECONDS})


# --- second factor ------------------------------------------------------------------------------------------

# What a signed-in session may reach before its second factor: enrolling one, signing out, static files.
MFA_OPEN_PREFIXES = (
    "/accounts/2fa/",
    "/accounts/reauthenticate/",
    "/accounts/logout/",
    "/logout/",
    "/static/",
    "/healthz/",
)


def mfa_required() -> bool:
    return not settings.DEMO_MODE


def session_passed_mfa(request) -> bool:
    if request.session.get(SESSION_MFA_ENROLLED):
        return True
    return any(r.get("method") == "mfa" for r in get_authentication_records(request, request.user))


class MfaRequiredMiddleware:
    """With DEMO_MODE off a password alone reaches no page: enrol a factor first, or sign in with one.

    A user with a factor whose session never passed it (Django admin's password form, a session made before MFA
    was required) is signed out; a user without one is sent to enrol: the authenticator-app page, which also links
    to adding a security key or passkey instead; recovery codes are shown after either.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is None
            or not user.is_authenticated
            or not mfa_required()
            or request.path.startswith(MFA_OPEN_PREFIXES)
            or session_passed_mfa(request)
        ):
            return self.get_response(request)
        if Authenticator.objects.filter(user=user).exists():
            return _signed_out(request, "mfa")
        enrol = reverse("mfa_activate_totp")
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=200)
            response["HX-Redirect"] = enrol
            return response
        return HttpResponseRedirect(enrol)


@receiver(authenticator_added)
def _enrolled_in_this_session(sender, request, user, authenticator, **kwargs):
    # Enrolling proved the session holds the new factor; allauth records a factor only when it is used to sign in.
    if request is not None:
        request.session[SESSION_MFA_ENROLLED] = True


class StaffAccountAdapter(DefaultAccountAdapter):
    """Staff accounts are created by an admin (Django admin, Users): nobody signs themselves up."""

    def is_open_for_signup(self, request):
        return False


def mfa_reset(*, user, actor) -> int:
    """Remove every second factor of `user` (lost phone, lost key); audited. They enrol again at next sign-in."""
    removed, _ = Authenticator.objects.filter(user=user).delete()
    audit_user_event(user, "mfa_reset", actor=actor, factors_removed=removed)
    return removed


# --- lockout (django-axes) ---------------------------------------------------------------------------------


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or the entry TRUSTED_PROXY_COUNT hops from the right of X-Forwarded-For."""
    count = settings.TRUSTED_PROXY_COUNT
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if count and len(forwarded) >= count:
        return forwarded[-count]
    return request.META.get("REMOTE_ADDR")


def axes_username(request, credentials) -> str | None:
    """The account a sign-in attempt is for: allauth authenticates with `username=`, its form posts `login`."""
    username = (credentials or {}).get("username")
    if not username and request is not None and request.method == "POST":
        username = request.POST.get("login")
    return username or None


def lockout_minutes() -> int:
    return max(1, round(float(settings.AXES_COOLOFF_TIME) * 60))


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    return render(request, "registration/locked_out.html", {"minutes": lockout_minutes()}, status=429)


def audit_user_event(user, event: str, *, actor=None, **data) -> LogEntry:
    """One django-auditlog row about a staff account's sign-in security (lockout, unlock, MFA reset)."""
    return LogEntry.objects.log_create(
        user,
        force_log=True,
        action=LogEntry.Action.UPDATE,
        changes={"security_event": [None, event]},
        actor=actor,
        additional_data={"event": event, **data},
    )


@receiver(user_locked_out)
def _audit_lockout(sender, request, username, ip_address, **kwargs):
    """One audit row per lockout, with when it ends (axes also signals each attempt refused while locked)."""
    from axes.models import AccessAttempt

    # Usernames are staff identifiers, not PHI; the address is the one axes counted.
    log.warning("sign-in locked out", extra={"username": username, "ip_address": ip_address})
    user = get_user_model().objects.filter(username=username).first() if username else None
    if user is None:
        return
    # The cool-off runs from the last counted failure (a refused attempt while locked does not extend it).
    last = AccessAttempt.objects.filter(username=username).order_by("-attempt_time").first()
    started = last.attempt_time if last else timezone.now()
    until = (started + timedelta(hours=float(settings.AXES_COOLOFF_TIME))).isoformat()
    if LogEntry.objects.get_for_object(user).filter(additional_data__event="locked_out", additional_data__until=until):
        return
    audit_user_event(user, "locked_out", ip_address=ip_address, until=until)
    # And on the access log, where the compliance page searches sign-ins by user (cases/audit).
    from cases.audit.services import access_log_record

    access_log_record(action="lockout", what="sign-in", request=request, user=user, until=until)


def lockout_clear(*, user, actor) -> int:
    """An admin's unlock of `user`'s account (before the cool-off ends); audited."""
    from axes.utils import reset

    cleared = reset(username=user.username)
    audit_user_event(user, "unlocked", actor=actor, attempts_cleared=cleared)
    from cases.audit.services import access_log_record

    access_log_record(action="unlock", what="sign-in", user=actor, username=actor.username, unlocked_user_id=user.pk)
    return cleared
