"""The one writer of the access log: `access_log_record`.

Call it from any view that shows patient data, after the rows to be shown are
known (their ids are already in memory: recording costs one INSERT and no
read). Other apps (sign-in lockout, admin factor resets) call it too:

    from cases.audit.services import access_log_record
    access_log_record(request=request, action="lockout", what="sign-in", username=typed_name)

Never pass names, MRNs, search terms or clinical text: ids and counts only.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable

from cases.audit.models import AccessLog

log = logging.getLogger(__name__)


def client_ip(request) -> str | None:
    """The source address, as the lockout counts it (`priorauth.security.client_ip`: REMOTE_ADDR, or behind
    proxies you run the entry `TRUSTED_PROXY_COUNT` hops from the right of X-Forwarded-For); None when it is
    not an address."""
    from priorauth.security import client_ip as address

    try:
        return str(ipaddress.ip_address(address(request) or ""))
    except ValueError:
        return None


def _ids(values: Iterable) -> list[int]:
    return sorted({int(v) for v in values if v is not None})


def access_log_record(
    *,
    action: str,
    what: str,
    request=None,
    user=None,
    username: str = "",
    patient_ids: Iterable[int] = (),
    case_ids: Iterable[int] = (),
    **detail,
) -> AccessLog:
    """Append one access-log row (one INSERT). `user` defaults to the request's signed-in user.

    `detail` holds ids and counts only (document_id=…, page=…, rows=…).
    """
    if user is None and request is not None and getattr(request, "user", None) is not None:
        user = request.user if request.user.is_authenticated else None
    return AccessLog.objects.create(
        action=action,
        what=what[:120],
        user_id=user.pk if user is not None else None,
        username=(getattr(user, "username", "") or username)[:150],
        practice_id=getattr(user, "practice_id", None),
        patient_ids=_ids(patient_ids),
        case_ids=_ids(case_ids),
        detail=detail,
        ip=client_ip(request) if request is not None else None,
        user_agent=(request.headers.get("User-Agent", "") if request is not None else "")[:200],
        request_id=getattr(request, "request_id", "") if request is not None else "",
    )


def access_log_cases(*, request, action: str, what: str, cases: Iterable, **detail) -> AccessLog:
    """The row for a page listing cases (already loaded): their ids and their patients' ids."""
    cases = list(cases)
    return access_log_record(
        request=request,
        action=action,
        what=what,
        case_ids=[c.pk for c in cases],
        patient_ids=[c.patient_id for c in cases],
        rows=len(cases),
        **detail,
    )
