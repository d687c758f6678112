"""The demo's fax payer answers through the sandbox: two answers matched by reference, one in the inbox."""

import pytest

from cases.models import Status
from integrations.fax.demo import demo_fax_sandbox
from integrations.fax.models import InboundFax
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_demo_answers_are_matched_and_one_waits(fax_case, practice, owner_provider, django_capture_on_commit_callbacks):
    cases = [fax_case]
    for _ in range(2):
        order = f.OrderFactory(practice=practice, ordering_provider=owner_provider)
        cases.append(f.CaseFactory(order=order, payer=fax_case.payer, status=Status.SUBMITTED, channel="fax"))
    type(fax_case).objects.filter(pk=fax_case.pk).update(status=Status.SUBMITTED)
    portal = f.PayerFactory(name="Webonly", default_channel="portal")

    with django_capture_on_commit_callbacks(execute=True):
        demo_fax_sandbox(practice=practice, payers=[fax_case.payer, portal])

    filed = InboundFax.objects.filter(state=InboundFax.State.FILED, matched_by=InboundFax.MatchedBy.REFERENCE)
    assert sorted(filed.values_list("case_id", flat=True)) == sorted(c.pk for c in cases[:2])
    assert InboundFax.objects.filter(state=InboundFax.State.INBOX).count() == 1
    portal.refresh_from_db()
    assert portal.portal_url and portal.portal_instructions
