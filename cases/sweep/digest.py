"""The optional e-mail digest after a scheduled sweep: counts and a link, no PHI.

E-mail is not a secure channel: the digest names no patient, case, service,
payer or provider; only the bucket counts the reader may see and a link to
the sweep page, where signing in shows the rest.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Count
from django.urls import reverse

from cases.models import User
from cases.sweep.models import Bucket, Sweep, SweepItem


def digest_body(*, sweep: Sweep, user: User) -> tuple[str, str]:
    """(subject, body) of one reader's digest."""
    rows = SweepItem.objects.filter(sweep=sweep).visible_to(user).order_by().values("bucket").annotate(n=Count("pk"))
    counts = {row["bucket"]: row["n"] for row in rows}
    total = sum(counts.values())
    base = settings.PUBLIC_BASE_URL
    lines = [f"The {sweep.run_date:%A %b} {sweep.run_date.day} sweep has {total} item(s) for you:", ""]
    lines += [f"  {label}: {counts.get(value, 0)}" for value, label in Bucket.choices]
    lines += ["", f"Open the sweep: {base}{reverse('sweep:page')}", ""]
    subject = f"Sweep {sweep.run_date.isoformat()}: {total} item(s)"
    return subject, "\n".join(lines)


def digest_send(*, sweep: Sweep) -> int:
    """Send the digest to every active user of the practice with a configured role. Returns how many."""
    settings = getattr(sweep.practice, "sweep_settings", None)
    roles = list(settings.digest_roles) if settings else []
    if not roles:
        return 0
    readers = (
        User.objects.filter(practice_id=sweep.practice_id, is_active=True, groups__name__in=roles)
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )
    sent = 0
    for user in readers:
        subject, body = digest_body(sweep=sweep, user=user)
        sent += send_mail(subject, body, None, [user.email])
    return sent
