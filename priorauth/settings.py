"""Settings for the prior authorization command center.

Everything that differs between a laptop and production comes from the
environment. The defaults are the embedded setup: SQLite, the django-q2 ORM
broker, the built-in sandbox EHR and payer, DEBUG off unless asked for.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# PRODUCTION turns on the secure-cookie and HTTPS settings and refuses the
# embedded demo conveniences (demo logins, sandbox endpoints, an insecure key).
PRODUCTION = env_bool("PRODUCTION", False)
# DEBUG pages show settings, SQL and local variables (PHI among them) to whoever triggers an error.
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG cannot be on when PRODUCTION is on.")

_INSECURE_KEY = "insecure-embedded-default-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", "" if PRODUCTION else _INSECURE_KEY)
# The embedded key is public (it is in the repository) and a short key is
# guessable; 50 characters is the length Django's deploy check asks for.
if PRODUCTION and (not SECRET_KEY or SECRET_KEY == _INSECURE_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured("SECRET_KEY must be set to a private key of 50+ characters when PRODUCTION is on.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",  # allauth's MFA pages use it
    "django_htmx",
    "django_q",
    "auditlog",
    "template_partials",
    # Sign-in with a second factor (README "Sign-in and MFA") and lockout (README "Lockout").
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "axes",
    "payers",
    "cases",
    "cases.audit",
    "integrations",
    "integrations.sms_twilio",
    "integrations.ehr_fhir",
    "integrations.llm",
    "integrations.submission",
    "integrations.pas",
    "integrations.fax",
    "integrations.portal",
    "integrations.x12_278",
]

MIDDLEWARE = [
    "priorauth.observability.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy and Permissions-Policy on every response.
    "priorauth.security.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Idle and absolute session lifetimes (a background poll renews neither), then the second factor.
    "priorauth.security.SessionLifetimeMiddleware",
    "priorauth.security.MfaRequiredMiddleware",
    "cases.middleware.PracticeTimezoneMiddleware",
    # PHI pages and downloads: no-store; sign-out: Clear-Site-Data (README "What the app stores where").
    "cases.middleware.NothingLeftBehindMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Every page needs a login unless its view is marked @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into its lockout answer.
    "axes.middleware.AxesMiddleware",
]

WHITENOISE = "whitenoise.middleware.WhiteNoiseMiddleware"

ROOT_URLCONF = "priorauth.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cases.context_processors.staff",
            ],
        },
    },
]

WSGI_APPLICATION = "priorauth.wsgi.application"

# DATABASE_URL, e.g. postgres://user@127.0.0.1:5432/priorauth; default is a
# SQLite file next to manage.py so a laptop needs nothing installed.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Two processes (web + django-q2 cluster) share the file: wait for locks
    # instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME") or None}

AUTH_USER_MODEL = "cases.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-axes first: it refuses a locked-out account or address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# CommonPasswordValidator refuses Django's list of 20 000 common (breached-list) passwords when a password is set;
# no online breach lookup, so nothing about a password leaves the server.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "cases:queue"
LOGOUT_REDIRECT_URL = "login"

# Sign-in (django-allauth's account + mfa apps; README "Sign-in and MFA"). Staff accounts are made by an admin:
# no self sign-up (priorauth.security.StaffAccountAdapter), usernames only, no e-mail confirmation round-trips.
ACCOUNT_ADAPTER = "priorauth.security.StaffAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
# Failed sign-ins are counted by django-axes alone (lockout, audit, admin unlock); allauth's own login_failed rate
# limit is off so there is one lock with one answer. Its other limits (password reset, re-authentication) stay.
ACCOUNT_RATE_LIMITS = {"login_failed": None}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
# allauth's forms with a wrong second factor counted by django-axes and malformed key answers refused as form errors
# (priorauth/mfa_forms.py says why).
MFA_FORMS = {
    "authenticate": "priorauth.mfa_forms.SignInCodeForm",
    "authenticate_webauthn": "priorauth.mfa_forms.SignInKeyForm",
    "login_webauthn": "priorauth.mfa_forms.PasskeyLoginForm",
    "reauthenticate_webauthn": "priorauth.mfa_forms.ReauthenticateKeyForm",
    "add_webauthn": "priorauth.mfa_forms.AddKeyForm",
}
MFA_TOTP_ISSUER = os.environ.get("MFA_TOTP_ISSUER", "PA command center")
# The key signs the page's origin and the server checks it: that check is what makes a passkey useless to a phishing
# site, so it stays on everywhere. Browsers allow WebAuthn on https and on http://localhost (which fido2 accepts
# without this flag); on http://127.0.0.1 the browser itself refuses (an IP address is no RP ID), flag or not.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = False

# Lockout (django-axes; README "Lockout"): AXES_FAILURE_LIMIT wrong passwords lock the account, and the same
# number from one address locks the address (a password spray over many accounts), for AXES_COOLOFF_MINUTES.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", 5))
AXES_COOLOFF_TIME = float(os.environ.get("AXES_COOLOFF_MINUTES", 15)) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# allauth's sign-in form names the username field "login" and authenticates with `username=`.
AXES_USERNAME_CALLABLE = "priorauth.security.axes_username"
AXES_RESET_ON_SUCCESS = True
# Attempts refused while locked do not restart the cool-off: the lockout ends when its audit row says.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "priorauth.security.lockout_response"
# Behind TRUSTED_PROXY_COUNT reverse proxies the client address is read from X-Forwarded-For (README "Lockout").
AXES_CLIENT_IP_CALLABLE = "priorauth.security.client_ip"
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", 0))

LANGUAGE_CODE = "en-us"
# The server's zone; each practice has its own zone for display and the sweep.
TIME_ZONE = os.environ.get("TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
# Hashed, compressed static files (whitenoise) where `collectstatic` ran: production, and `make serve`.
# Off by default because the manifest only exists after collectstatic (tests and `make run` serve from static/).
if env_bool("STATIC_MANIFEST", PRODUCTION):
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    # Static files from the app process (gunicorn), right after SecurityMiddleware: cached forever by hash.
    MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, WHITENOISE)
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
# Uploaded documents are PHI: never served from a public MEDIA_URL, only
# through a permission-checked view that answers with an attachment.
MEDIA_URL = "/_private_media_not_served/"
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DOCUMENT_MAX_BYTES = int(os.environ.get("DOCUMENT_MAX_BYTES", 15 * 1024 * 1024))
# The submission packet (cases/packet_pdf.py) is built in memory: documents
# beyond this many bytes in total are listed as not included.
PACKET_MAX_BYTES = int(os.environ.get("PACKET_MAX_BYTES", 60 * 1024 * 1024))
# Hostile or runaway PDFs (one page repeated 100 000 times, a decompression bomb): refused at
# upload and left out of a packet at build. Pages per document and per packet; the decoded size of
# a document's page contents (what a reader inflates to draw it). See README "Hostile files".
DOCUMENT_MAX_PAGES = int(os.environ.get("DOCUMENT_MAX_PAGES", 500))
PACKET_MAX_PAGES = int(os.environ.get("PACKET_MAX_PAGES", 1500))
DOCUMENT_MAX_DECODED_BYTES = int(os.environ.get("DOCUMENT_MAX_DECODED_BYTES", 200 * 1024 * 1024))
# DejaVu Sans (Debian: fonts-dejavu-core) is embedded in the packet: PDF core fonts are latin-1 only.
PACKET_FONT_DIR = Path(os.environ.get("PACKET_FONT_DIR", "/usr/share/fonts/truetype/dejavu"))

# Automatic logoff (HIPAA; priorauth.security.SessionLifetimeMiddleware, README "Automatic logoff"): 15 idle
# minutes, renewed only by a person's requests (a request with `X-Background-Poll: 1` renews nothing), and an
# absolute lifetime after which a new sign-in is needed however busy the session was.
SESSION_IDLE_SECONDS = int(os.environ.get("SESSION_IDLE_SECONDS", 15 * 60))
SESSION_ABSOLUTE_SECONDS = int(os.environ.get("SESSION_ABSOLUTE_SECONDS", 12 * 60 * 60))
# The stored session outlives neither limit; the middleware enforces the idle one.
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_SECONDS
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
SESSION_COOKIE_SECURE = PRODUCTION or env_bool("SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31_536_000))
    # Subdomains too, unless a sibling host still serves plain http (SECURE_HSTS_INCLUDE_SUBDOMAINS=0).
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    # The preload directive only matters once the domain is submitted to the browsers' list; a domain that must
    # keep a plain-http subdomain says SECURE_HSTS_PRELOAD=0 (and Django's W021 reminder is then silenced).
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", SECURE_HSTS_INCLUDE_SUBDOMAINS)
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Load balancers probe health over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz/"]

# Demo logins exist only in the embedded setup; with DEMO_MODE off every user must sign in with a second factor.
DEMO_MODE = env_bool("DEMO_MODE", not PRODUCTION)
# The built-in sandbox EHR, payer and clearinghouse answer only when asked for (`make run` sets it): README "Sandbox".
SANDBOX_ENABLED = env_bool("SANDBOX_ENABLED", False)
if PRODUCTION and DEMO_MODE:
    raise ImproperlyConfigured("DEMO_MODE cannot be on in production.")
if PRODUCTION and SANDBOX_ENABLED:
    raise ImproperlyConfigured("SANDBOX_ENABLED cannot be on in production.")

# This app's public origin, as outside systems reach it: payers send PAS
# notifications to PUBLIC_BASE_URL + /integrations/pas/notify/<payer>/ (Twilio
# reads the same variable for its callbacks). The embedded default is the
# address `make run` serves; production has none and must say it, over https.
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "" if PRODUCTION else "http://127.0.0.1:8000").strip().rstrip("/")
if PRODUCTION and PUBLIC_BASE_URL and not PUBLIC_BASE_URL.startswith("https://"):
    raise ImproperlyConfigured("PUBLIC_BASE_URL must be https:// in production.")

# django-q2. Why these numbers (see ../docs and django-q2's traps):
# - `retry` is when an unacknowledged task is redelivered, so it must exceed
#   `timeout`, which must exceed the worst-case task (a payer call with its own
#   30 s HTTP timeout and a few DB writes); otherwise one task runs twice.
# - `ack_failures` + `max_attempts`: a failing task is not redelivered
#   forever; retries with backoff live in the application's outbox rows.
# - the PAS poll and submit tasks make one payer call each with a 5 s connect
#   and 30 s read timeout (PAS_*_TIMEOUT_SECONDS), so a task's worst case is
#   about 40 s: timeout 120 > 40, retry 300 > 120.
# - `catch_up` off: the every-minute poller must not replay missed runs after
#   downtime (the claim query catches up on its own, under row locks).
# - task arguments are pickled into the database: tasks take ids only.
REDIS_URL = os.environ.get("REDIS_URL", "")
Q_CLUSTER = {
    "name": "priorauth",
    "workers": int(os.environ.get("Q_WORKERS", 2)),
    "timeout": int(os.environ.get("Q_TIMEOUT", 120)),
    "retry": int(os.environ.get("Q_RETRY", 300)),
    "max_attempts": 3,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "label": "Background tasks",
    "sync": env_bool("Q_SYNC", False),
}
if Q_CLUSTER["retry"] <= Q_CLUSTER["timeout"]:
    raise ImproperlyConfigured("Q_RETRY must exceed Q_TIMEOUT, or a task still running is handed out again.")
if REDIS_URL and os.environ.get("Q_BROKER", "") != "orm":
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = float(os.environ.get("Q_POLL", 1))
# A cluster of its own (manage.py simulate_practice starts one): its own queue, no schedules of its own,
# successful results not kept. The signing salt stays the site's name, so payloads read the same.
if os.environ.get("Q_CLUSTER_NAME"):
    Q_CLUSTER["cluster_name"] = os.environ["Q_CLUSTER_NAME"]
Q_CLUSTER["scheduler"] = env_bool("Q_SCHEDULER", True)
Q_CLUSTER["save_limit"] = int(os.environ.get("Q_SAVE_LIMIT", Q_CLUSTER["save_limit"]))
Q_CLUSTER["bulk"] = int(os.environ.get("Q_BULK", 1))  # tasks the pusher takes from the broker at once

# How long work a dead worker left behind waits before it is taken again (docs/reliability.md). Each
# must exceed the longest a live worker can take over it (HTTP timeouts inside the task timeout); the
# fault tests and bench/fault_soak.py shorten them (with Q_TIMEOUT/Q_RETRY) to see recovery quickly.
SUBMISSION_SENDING_STALE_SECONDS = int(os.environ.get("SUBMISSION_SENDING_STALE_SECONDS", 300))
POLL_LEASE_SECONDS = int(os.environ.get("POLL_LEASE_SECONDS", 600))
SMS_CLAIM_GRACE_SECONDS = int(os.environ.get("SMS_CLAIM_GRACE_SECONDS", 120))
BREAKER_HALF_OPEN_LIMIT_SECONDS = int(os.environ.get("BREAKER_HALF_OPEN_LIMIT_SECONDS", 180))
# The payer breaker's first cool-down; each reopening doubles it (capped at 30 min).
BREAKER_COOLDOWN_BASE_SECONDS = int(os.environ.get("BREAKER_COOLDOWN_BASE_SECONDS", 60))

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

# Logs carry ids and outcomes, never names, birth dates or clinical content: one JSON line per event with the
# request's id (priorauth/observability.py), WARNING and above unless LOG_LEVEL says otherwise. The sandbox
# payer's deliberate 503s are logged at INFO, so they do not hide real errors. LOG_FORMAT=plain for reading by eye.
LOG_LEVEL = os.environ.get("LOG_LEVEL", "WARNING").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "priorauth.observability.RequestIdFilter"},
        "expected_sandbox_failures": {"()": "priorauth.observability.ExpectedSandboxFailures"},
    },
    "formatters": {
        "json": {"()": "priorauth.observability.JsonLineFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain" if os.environ.get("LOG_FORMAT") == "plain" else "json",
            "filters": ["request_id"],
            # The handler's level, not only the loggers': a record lowered to INFO by a filter stops here.
            "level": LOG_LEVEL,
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"filters": ["expected_sandbox_failures"]},
        # The development server's line per request (`make run`): at LOG_LEVEL like everything else, so the
        # sandbox's own traffic does not bury what matters (its deliberate 503s at INFO here too).
        "django.server": {
            "handlers": ["console"],
            "level": LOG_LEVEL,
            "propagate": False,
            "filters": ["expected_sandbox_failures"],
        },
        "django.db.backends": {"level": "WARNING"},
        # fontTools narrates every font subset at INFO (cases/packet_pdf.py).
        "fontTools": {"level": "WARNING"},
    },
}

AUDITLOG_INCLUDE_ALL_MODELS = False

# Optional LLM rewrite of the medical-necessity summary: any OpenAI-compatible
# chat-completions endpoint. Off unless LLM_BASE_URL and LLM_MODEL are set.
LLM_BASE_URL = os.environ.get("LLM_BASE_URL", "")
LLM_MODEL = os.environ.get("LLM_MODEL", "")
LLM_API_KEY = os.environ.get("LLM_API_KEY", "")
LLM_TIMEOUT_SECONDS = int(os.environ.get("LLM_TIMEOUT_SECONDS", 30))
# Da Vinci PAS payer calls (integrations/pas): connect and read timeouts.
PAS_CONNECT_TIMEOUT_SECONDS = float(os.environ.get("PAS_CONNECT_TIMEOUT_SECONDS", 5))
PAS_READ_TIMEOUT_SECONDS = float(os.environ.get("PAS_READ_TIMEOUT_SECONDS", 30))
# Key for the PAS payer connections' private keys at rest (Fernet, derived); empty = derived from SECRET_KEY.
PAS_SECRETS_KEY = os.environ.get("PAS_SECRETS_KEY", "")

# X12 through a clearinghouse (integrations/x12_278): CAQH CORE real time. Clearinghouse passwords and
# client keys are stored encrypted with a key derived from X12_CREDENTIALS_KEY (else SECRET_KEY).
X12_CREDENTIALS_KEY = os.environ.get("X12_CREDENTIALS_KEY", "")
X12_CONNECT_TIMEOUT_SECONDS = float(os.environ.get("X12_CONNECT_TIMEOUT_SECONDS", 5))
# CORE real time asks for an answer within 20 s; allow a little beyond it before retrying.
X12_READ_TIMEOUT_SECONDS = float(os.environ.get("X12_READ_TIMEOUT_SECONDS", 25))
# The sandbox clearinghouse decides a pended 278 this long after the pend (on the next inquiry).
X12_SANDBOX_PEND_SECONDS = int(os.environ.get("X12_SANDBOX_PEND_SECONDS", 120))
# How often the EHR order intake runs (minutes).
EHR_SYNC_MINUTES = int(os.environ.get("EHR_SYNC_MINUTES", 5))
