"""Settings come from the environment.

Each case imports `priorauth.settings` in a fresh interpreter with a
controlled environment, so the module is really re-read (an in-process
reload would leak into the rest of the suite).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json
from priorauth import settings as s
db = s.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "host": db.get("HOST", ""),
    "q": {k: s.Q_CLUSTER.get(k) for k in ("orm", "redis")},
    "debug": s.DEBUG, "production": s.PRODUCTION, "demo": s.DEMO_MODE, "sandbox": s.SANDBOX_ENABLED,
    "secret": s.SECRET_KEY, "hosts": s.ALLOWED_HOSTS, "tz": s.TIME_ZONE,
    "secure_cookies": s.SESSION_COOKIE_SECURE and s.CSRF_COOKIE_SECURE,
    "ssl_redirect": getattr(s, "SECURE_SSL_REDIRECT", False), "hsts": getattr(s, "SECURE_HSTS_SECONDS", 0),
    "session_age": s.SESSION_COOKIE_AGE, "public_base_url": s.PUBLIC_BASE_URL,
    "idle": s.SESSION_IDLE_SECONDS, "absolute": s.SESSION_ABSOLUTE_SECONDS,
    "save_every_request": s.SESSION_SAVE_EVERY_REQUEST,
    "hsts_subdomains": getattr(s, "SECURE_HSTS_INCLUDE_SUBDOMAINS", False),
}))
"""

STRONG_KEY = "k" * 20 + "3x!Q9vZ#pL2mW8rT5yB7nC4dF6gH1jK0"


def _run(**env):
    """Import the settings under exactly this environment (plus PATH); return (returncode, output)."""
    clean = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )
    return done.returncode, done.stdout + done.stderr


def _settings(**env) -> dict:
    code, output = _run(**env)
    assert code == 0, output
    return json.loads(output.strip().splitlines()[-1])


def test_the_embedded_defaults():
    # given an empty environment
    s = _settings()
    # then SQLite next to manage.py, the ORM broker, DEBUG off, the demo logins on, the sandbox off until asked
    assert s["engine"] == "django.db.backends.sqlite3"
    assert Path(s["name"]) == ROOT / "db.sqlite3"
    assert s["q"] == {"orm": "default", "redis": None}
    assert s["debug"] is False
    assert (s["production"], s["demo"], s["sandbox"]) == (False, True, False)
    assert s["secure_cookies"] is False
    assert s["secret"]  # an embedded key, fine for a laptop
    assert "127.0.0.1" in s["hosts"]
    assert s["tz"] == "America/New_York"
    # 15 idle minutes and 12 hours at most; the middleware renews, not every saved request
    assert (s["idle"], s["absolute"], s["session_age"]) == (15 * 60, 12 * 60 * 60, 12 * 60 * 60)
    assert s["save_every_request"] is False


def test_the_sandbox_is_on_only_when_asked_for():
    assert _settings(SANDBOX_ENABLED="1")["sandbox"] is True


def test_database_url_points_at_postgresql():
    s = _settings(DATABASE_URL="postgres://pa@127.0.0.1:5432/priorauth")
    assert (s["engine"], s["name"], s["host"]) == ("django.db.backends.postgresql", "priorauth", "127.0.0.1")


def test_redis_url_switches_the_task_broker_to_redis():
    s = _settings(REDIS_URL="redis://127.0.0.1:6379/3")
    assert s["q"] == {"orm": None, "redis": "redis://127.0.0.1:6379/3"}


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("true", True), ("0", False), ("", False)])
def test_debug_is_on_only_when_asked_for(value, expected):
    assert _settings(DEBUG=value)["debug"] is expected


def test_hosts_zone_and_idle_time_come_from_the_environment():
    s = _settings(
        ALLOWED_HOSTS="pa.example.org, www.pa.example.org", TIME_ZONE="America/Chicago", SESSION_IDLE_SECONDS="600"
    )
    assert s["hosts"] == ["pa.example.org", "www.pa.example.org"]
    assert (s["tz"], s["idle"]) == ("America/Chicago", 600)
    assert _settings(SESSION_ABSOLUTE_SECONDS="3600")["absolute"] == 3600


def test_production_turns_on_https_settings_and_off_the_demo_and_sandbox():
    s = _settings(PRODUCTION="1", SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="pa.example.org")
    assert (s["demo"], s["sandbox"], s["debug"]) == (False, False, False)
    assert s["secure_cookies"] is True
    assert s["ssl_redirect"] is True
    assert s["hsts"] >= 31_536_000 and s["hsts_subdomains"] is True
    assert s["secret"] == STRONG_KEY
    assert (
        _settings(PRODUCTION="1", SECRET_KEY=STRONG_KEY, SECURE_HSTS_INCLUDE_SUBDOMAINS="0")["hsts_subdomains"] is False
    )


def test_production_refuses_debug():
    # a debug page shows settings and local variables (PHI among them) to whoever causes an error
    code, output = _run(PRODUCTION="1", SECRET_KEY=STRONG_KEY, DEBUG="1")
    assert code != 0
    assert "ImproperlyConfigured" in output and "DEBUG" in output


def test_check_deploy_is_clean_under_production_settings():
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "PRODUCTION": "1",
        "SECRET_KEY": STRONG_KEY,
        "ALLOWED_HOSTS": "pa.example.org",
        "PUBLIC_BASE_URL": "https://pa.example.org",
        # production names its SMS account (the app's own check refuses a half-configured one)
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "t" * 32,
        "TWILIO_MESSAGING_SERVICE_SID": "MG" + "0" * 32,
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_production_has_no_default_hosts():
    assert _settings(PRODUCTION="1", SECRET_KEY=STRONG_KEY)["hosts"] == []


def _embedded_key() -> str:
    return _settings()["secret"]


@pytest.mark.parametrize(
    "key",
    [
        None,  # not set
        "",  # set but empty
        "embedded",  # the key anyone can read in the repository
        "short-key",  # guessable: Django's deploy check wants at least 50 characters
    ],
)
def test_production_refuses_a_missing_or_insecure_secret_key(key):
    env = {"PRODUCTION": "1"}
    if key is not None:
        env["SECRET_KEY"] = _embedded_key() if key == "embedded" else key
    code, output = _run(**env)
    assert code != 0
    assert "ImproperlyConfigured" in output and "SECRET_KEY" in output


@pytest.mark.parametrize("flag", ["DEMO_MODE", "SANDBOX_ENABLED"])
def test_production_refuses_the_demo_and_the_sandbox_even_when_asked(flag):
    code, output = _run(PRODUCTION="1", SECRET_KEY=STRONG_KEY, **{flag: "1"})
    assert code != 0
    assert "ImproperlyConfigured" in output and flag in output


def test_public_base_url_defaults_to_make_run_in_the_embedded_setup_and_to_nothing_in_production():
    assert _settings()["public_base_url"] == "http://127.0.0.1:8000"
    assert _settings(PUBLIC_BASE_URL="http://127.0.0.1:8123/")["public_base_url"] == "http://127.0.0.1:8123"
    assert _settings(PRODUCTION="1", SECRET_KEY=STRONG_KEY)["public_base_url"] == ""
    s = _settings(PRODUCTION="1", SECRET_KEY=STRONG_KEY, PUBLIC_BASE_URL="https://pa.example.org")
    assert s["public_base_url"] == "https://pa.example.org"


def test_production_refuses_a_public_base_url_that_is_not_https():
    code, output = _run(PRODUCTION="1", SECRET_KEY=STRONG_KEY, PUBLIC_BASE_URL="http://pa.example.org")
    assert code != 0
    assert "ImproperlyConfigured" in output and "PUBLIC_BASE_URL" in output


def test_a_task_retry_not_longer_than_the_task_timeout_is_refused():
    # A task still running would be handed out again (django-q2's `retry` is redelivery, not a retry).
    code, output = _run(Q_TIMEOUT="60", Q_RETRY="60")
    assert code != 0
    assert "ImproperlyConfigured" in output and "Q_RETRY must exceed Q_TIMEOUT" in output
    assert _run(Q_TIMEOUT="15", Q_RETRY="20")[0] == 0
