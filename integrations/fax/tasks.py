"""django-q2 entry points for faxing. Ids only in; they load rows and call a service."""

from __future__ import annotations


def redial_due() -> dict:
    """Scheduled every minute: redials whose backoff is over, received faxes to fetch again,
    and the sandbox service's reports."""
    from integrations.fax.config import fax_config
    from integrations.fax.sandbox import sandbox_report_due
    from integrations.fax.services import fax_redial_due, inbound_fetch_due

    done = {"redialled": fax_redial_due(), "fetched": inbound_fetch_due()}
    if fax_config().backend == "sandbox":
        done["sandbox_reports"] = sandbox_report_due()
    return done


def inbound_fetch(fax_id: int) -> str:
    from integrations.fax.services import inbound_fetch as fetch

    return fetch(fax_id=fax_id).state
