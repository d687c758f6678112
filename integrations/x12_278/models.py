"""Clearinghouses, which payer goes through which, the control numbers we issued, and eligibility answers."""

from __future__ import annotations

import base64
import hashlib

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone


def _fernet():
    from cryptography.fernet import Fernet

    # A dedicated key when set (rotate it apart from SECRET_KEY); else one derived from SECRET_KEY.
    raw = settings.X12_CREDENTIALS_KEY or settings.SECRET_KEY
    if not raw:
        raise ImproperlyConfigured("X12_CREDENTIALS_KEY (or SECRET_KEY) is needed to store clearinghouse secrets.")
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(f"x12-credentials:{raw}".encode()).digest()))


def secret_encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def secret_decrypt(token: str) -> str:
    from cryptography.fernet import InvalidToken

    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "A clearinghouse secret cannot be decrypted: X12_CREDENTIALS_KEY changed. Enter the secret again in admin."
        ) from None


class Clearinghouse(models.Model):
    """A clearinghouse we reach in real time over CAQH CORE Connectivity (HTTP MIME multipart).

    Passwords and client-certificate keys are stored encrypted (Fernet, key from
    X12_CREDENTIALS_KEY or SECRET_KEY); admin never shows them back.
    """

    class Auth(models.TextChoices):
        BASIC = "basic", "User name and password (CORE UserName/Password)"
        CERTIFICATE = "certificate", "Client certificate (mutual TLS)"

    name = models.CharField(max_length=120, unique=True)
    endpoint_url = models.URLField(max_length=300, help_text="The clearinghouse's CORE real-time endpoint.")
    sender_id = models.CharField(max_length=15, help_text="Our id at the clearinghouse (ISA06, GS02, CORE SenderID).")
    sender_qualifier = models.CharField(max_length=2, default="ZZ")
    receiver_id = models.CharField(max_length=15, help_text="The clearinghouse's id (ISA08, GS03, CORE ReceiverID).")
    receiver_qualifier = models.CharField(max_length=2, default="ZZ")
    auth = models.CharField(max_length=12, choices=Auth.choices, default=Auth.BASIC)
    username = models.CharField(max_length=120, blank=True)
    password_encrypted = models.TextField(blank=True, editable=False)
    client_certificate_pem = models.TextField(blank=True, help_text="PEM certificate (public) for mutual TLS.")
    client_key_encrypted = models.TextField(blank=True, editable=False)
    test_mode = models.BooleanField(default=False, help_text="Send ISA15 = T (test) instead of P.")
    # Control numbers we issued: each interchange takes the next, under a row lock, and keeps it.
    last_interchange_control = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        # The control-number counter is only ever moved by next_control_number(): saving a row loaded
        # earlier (admin, a test) must not wind it back, or a control number would be issued twice.
        if self.pk and not kwargs.get("update_fields") and not kwargs.get("force_insert"):
            kwargs["update_fields"] = [
                f.attname for f in self._meta.concrete_fields if f.attname not in ("id", "last_interchange_control")
            ]
        super().save(*args, **kwargs)

    def set_password(self, value: str) -> None:
        self.password_encrypted = secret_encrypt(value)

    def password(self) -> str:
        return secret_decrypt(self.password_encrypted)

    def set_client_key(self, pem: str) -> None:
        self.client_key_encrypted = secret_encrypt(pem)

    def client_key(self) -> str:
        return secret_decrypt(self.client_key_encrypted)

    def next_control_number(self) -> int:
        """The next ISA13/GS06: unique per clearinghouse, persisted before it is used (9 digits, wraps)."""
        with transaction.atomic():
            Clearinghouse.objects.filter(pk=self.pk).update(
                last_interchange_control=F("last_interchange_control") % 999_999_999 + 1
            )
            return Clearinghouse.objects.values_list("last_interchange_control", flat=True).get(pk=self.pk)


class PayerRoute(models.Model):
    """Which clearinghouse reaches a payer, and how the 278/270 names it (NM1*X3 / NM1*PR)."""

    payer = models.OneToOneField("payers.Payer", on_delete=models.CASCADE, related_name="x12_route")
    clearinghouse = models.ForeignKey(Clearinghouse, on_delete=models.PROTECT, related_name="routes")
    payer_code = models.CharField(
        max_length=80, blank=True, help_text="The payer's id at the clearinghouse (default: the payer's payer id)."
    )
    eligibility = models.BooleanField(default=True, help_text="Check eligibility (270/271) before the packet.")

    def __str__(self) -> str:
        return f"{self.payer} via {self.clearinghouse}"

    @property
    def code(self) -> str:
        return self.payer_code or self.payer.payer_id


class Interchange(models.Model):
    """One interchange we built: its control number, PayloadID and text, kept so a resend is byte-identical.

    A retry after a lost answer sends this same row again (same ISA13, same
    PayloadID): the clearinghouse recognises the duplicate and answers with
    what it already answered, instead of taking a second request.
    """

    class Kind(models.TextChoices):
        REQUEST = "278", "278 request"
        INQUIRY = "278i", "278 inquiry"
        CANCEL = "278c", "278 cancel"
        ELIGIBILITY = "270", "270 eligibility"

    clearinghouse = models.ForeignKey(Clearinghouse, on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey("cases.PriorAuthCase", on_delete=models.CASCADE, related_name="x12_interchanges")
    kind = models.CharField(max_length=4, choices=Kind.choices)
    key = models.CharField(max_length=120, help_text="Our key: the submission key (278) or the check's id (270).")
    control_number = models.PositiveIntegerField()
    payload_id = models.CharField(max_length=64, unique=True)
    payload = models.TextField()
    response = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clearinghouse", "control_number"], name="x12_control_number_unique"),
            models.UniqueConstraint(fields=["kind", "key"], name="x12_one_interchange_per_key"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.control_number:09d} ({self.key})"


class EligibilityCheck(models.Model):
    """One 270/271 exchange for a case, and what the payer said."""

    class Result(models.TextChoices):
        PENDING = "pending", "Checking…"
        ACTIVE = "active", "Active coverage"
        INACTIVE = "inactive", "Inactive coverage"
        NOT_FOUND = "not_found", "Member not found"
        WRONG_PLAN = "wrong_plan", "Different plan"
        REJECTED = "rejected", "Rejected by the payer"
        ERROR = "error", "Could not check"

    case = models.ForeignKey("cases.PriorAuthCase", on_delete=models.CASCADE, related_name="eligibility_checks")
    result = models.CharField(max_length=10, choices=Result.choices, default=Result.PENDING)
    plan_name = models.CharField(max_length=120, blank=True)
    group_number = models.CharField(max_length=50, blank=True)
    coverage_start = models.DateField(null=True, blank=True)
    coverage_end = models.DateField(null=True, blank=True)
    payer_words = models.TextField(blank=True, help_text="What the payer said (AAA reason, EB/MSG text).")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Eligibility for case {self.case_id}: {self.result}"


class SandboxX12Request(models.Model):
    """A 278 the built-in sandbox clearinghouse received (SANDBOX_ENABLED only), and what it decided."""

    sender_id = models.CharField(max_length=15)
    control_number = models.CharField(max_length=9)
    payload_id = models.CharField(max_length=64)
    trace = models.CharField(max_length=80, unique=True)
    member_id = models.CharField(max_length=80)
    action = models.CharField(max_length=2)
    authorization_number = models.CharField(max_length=30, blank=True)
    response = models.TextField()
    received_at = models.DateTimeField(default=timezone.now)
    decided_after_pend_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sender_id", "control_number"], name="x12_sandbox_control_unique")
        ]

    def __str__(self) -> str:
        return f"Sandbox 278 {self.trace}: {self.action}"
