"""Sign-in, sign-out and failed sign-in go into the access log (Django's auth signals)."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from cases.audit.models import AccessLog
from cases.audit.services import access_log_record


@receiver(user_logged_in, dispatch_uid="audit_login")
def _logged_in(sender, request, user, **kwargs):
    access_log_record(request=request, user=user, action=AccessLog.Action.LOGIN, what="sign-in")


@receiver(user_logged_out, dispatch_uid="audit_logout")
def _logged_out(sender, request, user, **kwargs):
    # An expired session signs out no one: nothing to record.
    if user is not None:
        access_log_record(request=request, user=user, action=AccessLog.Action.LOGOUT, what="sign-out")


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    # Django has already replaced the password with asterisks in `credentials`; only the name is kept.
    access_log_record(
        request=request,
        user=None,
        username=str(credentials.get("username", ""))[:150],
        action=AccessLog.Action.LOGIN_FAILED,
        what="sign-in",
    )
