"""What only Da Vinci PAS keeps: our Subscriptions at payers, and the sandbox payer's own state.

The channel-neutral rows (Submission, Exchange, CaseTracking, PayerLink) live
in integrations.submission.models.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class PayerSubscription(models.Model):
    """Our FHIR Subscription at one payer for one practice (Da Vinci PAS topic, R4 Backport).

    PAS subscriptions are per requesting provider organization, not per request:
    the payer pushes a notification when a result for any of the practice's
    pended requests is ready, and we re-check the matching cases with $inquire.
    The row is written before the call, so every attempt leaves a trace.
    """

    class State(models.TextChoices):
        NOT_CONFIGURED = "not_configured", "Not configured"  # something we need is missing: see last_error
        REQUESTED = "requested", "Requested"  # the payer took it, not yet confirmed by a handshake
        ACTIVE = "active", "Active"
        ERROR = "error", "Error"  # the last attempt failed: see last_error; retried hourly
        OFF = "off", "Off"  # switched off by an admin: never created or retried

    payer = models.ForeignKey("payers.Payer", on_delete=models.CASCADE, related_name="+")
    practice = models.ForeignKey("cases.Practice", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=16, choices=State.choices, default=State.NOT_CONFIGURED)
    subscription_id = models.CharField("payer's Subscription id", max_length=64, blank=True)
    org_identifier = models.CharField(
        max_length=40, blank=True, help_text="The practice identifier the subscription filters on (org-identifier)."
    )
    endpoint = models.CharField(max_length=300, blank=True, help_text="Where the payer sends notifications.")
    last_error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # A worker holds the row while it calls the payer (so two workers never POST twice).
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    handshake_at = models.DateTimeField(null=True, blank=True)
    last_notified_at = models.DateTimeField(
        null=True, blank=True, help_text="Last handshake, heartbeat or event notification received."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["payer", "practice"], name="payer_subscription_unique"),
        ]
        ordering = ["payer_id", "practice_id"]

    def __str__(self) -> str:
        return f"Subscription of practice {self.practice_id} at payer {self.payer_id} ({self.state})"


class SandboxPayer(models.Model):
    """Behaviour of one payer played by the app's own sandbox (SANDBOX_ENABLED only).

    Rates are relative weights; a request's outcome is drawn once, seeded by its
    Claim identifier, so asking again gives the same answer.
    """

    slug = models.SlugField(unique=True)
    approve_weight = models.PositiveSmallIntegerField(default=60)
    partial_weight = models.PositiveSmallIntegerField(default=10)
    deny_weight = models.PositiveSmallIntegerField(default=15)
    pend_weight = models.PositiveSmallIntegerField(default=15)
    decision_delay_seconds = models.PositiveIntegerField(default=90, help_text="Time from $submit to a decision.")
    error_rate = models.FloatField(default=0.0, help_text="Share of requests answered 503 (0–1).")
    timeout_rate = models.FloatField(default=0.0, help_text="Share of requests that hang (0–1).")
    timeout_seconds = models.FloatField(default=35.0, help_text="How long a hanging request hangs.")
    # Auth as a real payer asks for it: a bearer token from /token, got with a JWT client
    # assertion signed by the client's private key (verified with this public key).
    require_auth = models.BooleanField(
        default=True, help_text="Refuse $submit/$inquire/Subscription without a valid bearer token."
    )
    client_id = models.CharField(max_length=200, blank=True)
    client_public_key_pem = models.TextField("client's public key (PEM)", blank=True)
    token_lifetime_seconds = models.PositiveIntegerField(default=300)

    def __str__(self) -> str:
        return f"Sandbox payer {self.slug}"


class SandboxClaim(models.Model):
    sandbox_payer = models.ForeignKey(SandboxPayer, on_delete=models.CASCADE, related_name="claims")
    claim_identifier = models.CharField(max_length=120)
    review_action = models.CharField(max_length=4, help_text="X12 306 code decided on receipt.")
    received_at = models.DateTimeField(default=timezone.now)
    decide_at = models.DateTimeField()
    claim = models.JSONField(help_text="The Claim as received (what the sandbox needs to answer).")
    # The requesting organization's identifier (Claim.provider): what PAS subscriptions filter on.
    requester_identifier = models.CharField(max_length=40, blank=True)
    # When subscribers were told the decision (or it was in the $submit answer itself).
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sandbox_payer", "claim_identifier"], name="sandbox_claim_unique")
        ]
        indexes = [
            models.Index(fields=["decide_at"], condition=Q(notified_at__isnull=True), name="sandbox_claim_to_notify"),
        ]

    def __str__(self) -> str:
        return f"Sandbox claim {self.claim_identifier}"


class SandboxSubscription(models.Model):
    """A Subscription a client created at the sandbox payer (`POST [base]/Subscription`).

    Topic-based (R4 Backport, the PAS topic with an org-identifier filter) or
    the reference implementation's older shape (criteria as a search string).
    """

    class Kind(models.TextChoices):
        TOPIC = "topic", "PAS topic (R4 Backport)"
        CRITERIA = "criteria", "Search criteria (R4 classic)"

    sandbox_payer = models.ForeignKey(SandboxPayer, on_delete=models.CASCADE, related_name="subscriptions")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # Subscription.status as FHIR has it: active / error / off.
    fhir_status = models.CharField(max_length=10, default="active")
    criteria = models.TextField()
    # Topic-based: the org-identifier filter values; classic: the search parameters.
    filters = models.JSONField(default=dict, blank=True)
    endpoint = models.CharField(max_length=500)
    headers = models.JSONField(default=list, blank=True)
    payload_content = models.CharField(max_length=16, blank=True)  # empty / id-only / full-resource
    payload_type = models.CharField(max_length=40, blank=True)  # channel.payload (a MIME type); none = no body
    events_since_start = models.PositiveIntegerField(default=0)
    resource = models.JSONField(help_text="The Subscription as received.")
    # The sandbox payer's FHIR base as the subscriber called it (for the references in notifications).
    base_url = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Sandbox subscription {self.pk} ({self.fhir_status})"


class SandboxNotification(models.Model):
    """One notification the sandbox payer owes a subscriber: sent by the push schedule, retried a few times."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    subscription = models.ForeignKey(SandboxSubscription, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20)  # handshake / heartbeat / event-notification
    claim = models.ForeignKey(SandboxClaim, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    event_number = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(state="pending"), name="sandbox_notification_due"),
        ]

    def __str__(self) -> str:
        return f"Sandbox {self.kind} {self.pk} ({self.state})"


class PayerConnection(models.Model):
    """How we reach one payer's PAS endpoint: its auth, client certificate and document budget.

    Auth `oauth_private_key_jwt` is OAuth 2.0 client credentials with a signed JWT
    client assertion (SMART Backend Services / UDAP B2B style). The private key and
    the client certificate's key are stored encrypted (`integrations.pas.secrets`),
    never in plain text and never shown in admin; tokens live only in the cache.
    """

    class Auth(models.TextChoices):
        NONE = "none", "None (sandbox without auth)"
        PRIVATE_KEY_JWT = "oauth_private_key_jwt", "OAuth 2.0 client credentials, private_key_jwt"

    class Algorithm(models.TextChoices):
        RS384 = "RS384", "RS384"
        ES384 = "ES384", "ES384"

    payer = models.OneToOneField("payers.Payer", on_delete=models.CASCADE, related_name="pas_connection")
    auth = models.CharField(max_length=24, choices=Auth.choices, default=Auth.PRIVATE_KEY_JWT)
    token_url = models.URLField("token URL", max_length=300, blank=True)
    client_id = models.CharField(max_length=200, blank=True)
    scopes = models.CharField(max_length=500, blank=True, default="system/Claim.write system/ClaimResponse.read")
    key_id = models.CharField("key id (kid)", max_length=200, blank=True)
    algorithm = models.CharField(max_length=8, choices=Algorithm.choices, default=Algorithm.RS384)
    private_key_encrypted = models.TextField(blank=True, editable=False)
    # Mutual TLS: the client certificate (public, PEM) and its key (encrypted).
    client_cert_pem = models.TextField("client certificate (PEM)", blank=True)
    client_cert_key_encrypted = models.TextField(blank=True, editable=False)
    max_document_bytes = models.PositiveIntegerField(
        default=5 * 1024 * 1024,
        help_text="Bytes of documents one request may carry; the rest is named on the case to send by fax or portal.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"PAS connection to payer {self.payer_id}"

    @property
    def has_private_key(self) -> bool:
        return bool(self.private_key_encrypted)

    def set_private_key(self, pem: str) -> None:
        from integrations.pas.secrets import seal

        self.private_key_encrypted = seal(pem)

    def set_client_cert_key(self, pem: str) -> None:
        from integrations.pas.secrets import seal

        self.client_cert_key_encrypted = seal(pem)
