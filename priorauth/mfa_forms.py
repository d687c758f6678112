"""django-allauth's second-factor forms, with two changes (settings.MFA_FORMS; README "Sign-in and MFA").

1. A wrong code or security-key answer at sign-in counts as a failed sign-in for django-axes, and a locked account
   cannot finish signing in. allauth counts these with its own `login_failed` rate limit, which is off here so that
   axes is the one lock (ACCOUNT_RATE_LIMITS); without this the second factor could be guessed without end by
   anyone who knows the password.
2. A malformed WebAuthn answer (a posted credential that is JSON but not a credential) is a form error. allauth
   catches only some of what fido2 raises on such input (a missing `rawId` is a KeyError), and the rest was a 500.
"""

from __future__ import annotations

import struct

from allauth.core import context
from allauth.mfa.adapter import get_adapter
from allauth.mfa.base.forms import AuthenticateForm
from allauth.mfa.webauthn.forms import (
    AddWebAuthnForm,
    AuthenticateWebAuthnForm,
    LoginWebAuthnForm,
    ReauthenticateWebAuthnForm,
)
from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError

# What fido2 and allauth raise on a credential of the wrong shape (missing keys, wrong types, bad base64 or CBOR).
MALFORMED = (LookupError, TypeError, ValueError, AttributeError, struct.error)
LOCKED_MESSAGE = "Too many failed sign-ins. Try again later or ask an administrator to unlock your account."


def _incorrect() -> ValidationError:
    return get_adapter().validation_error("incorrect_code")


class _CountedBySignInLock:
    """The sign-in lock (django-axes) for the second-factor step; `self.user` is the user signing in."""

    def _axes_credentials(self) -> dict:
        return {"username": self.user.get_username()}

    def _refuse_if_locked(self) -> None:
        request = context.request
        credentials = self._axes_credentials()
        if not AxesProxyHandler.is_allowed(request, credentials):
            # AxesMiddleware answers with the lockout page (429), as for a password while locked.
            request.axes_locked_out = True
            request.axes_credentials = credentials
            raise ValidationError(LOCKED_MESSAGE)

    def _count_failure(self) -> None:
        # Django's own signal: axes counts it (and locks at AXES_FAILURE_LIMIT), the access log records it.
        user_login_failed.send(sender=type(self), credentials=self._axes_credentials(), request=context.request)


class SignInCodeForm(_CountedBySignInLock, AuthenticateForm):
    """The code (authenticator app or recovery code) asked for after the password."""

    def clean_code(self) -> str:
        self._refuse_if_locked()
        try:
            return super().clean_code()
        except ValidationError:
            self._count_failure()
            raise


class SignInKeyForm(_CountedBySignInLock, AuthenticateWebAuthnForm):
    """The security key or passkey asked for after the password."""

    def clean_credential(self):
        self._refuse_if_locked()
        try:
            return super().clean_credential()
        except MALFORMED:
            self._count_failure()
            raise _incorrect() from None
        except ValidationError:
            self._count_failure()
            raise


class PasskeyLoginForm(LoginWebAuthnForm):
    """A passkey on its own from the sign-in page. The user comes from the posted answer, so a failure counts
    against nobody's account (anyone could lock anyone out); allauth limits these per address (`webauthn_login`)."""

    def clean_credential(self):
        try:
            return super().clean_credential()
        except MALFORMED:
            raise _incorrect() from None


class ReauthenticateKeyForm(ReauthenticateWebAuthnForm):
    def clean_credential(self):
        try:
            return super().clean_credential()
        except MALFORMED:
            raise _incorrect() from None


class AddKeyForm(AddWebAuthnForm):
    def clean(self) -> dict:
        try:
            return super().clean()
        except MALFORMED:
            raise _incorrect() from None
