"""The notify endpoint refuses what is not a notification with a 400, never a 500 (issue 18 item 8)."""

import pytest

from integrations.submission.models import PayerLink

SECRET = "s3cret-token-for-tests"


@pytest.fixture
def link(pas_case):
    return PayerLink.objects.create(payer=pas_case.payer, notify_secret=SECRET)


def _post(client, payer_id, raw: str):
    return client.post(
        f"/integrations/pas/notify/{payer_id}/",
        data=raw,
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {SECRET}",
    )


@pytest.mark.parametrize(
    "raw",
    [
        '"a string"',
        "[1, 2, 3]",
        "42",
        "null",
        "true",
        "[" * 5000 + "]" * 5000,
        '{"a":' * 5000 + "1" + "}" * 5000,
        '{"resourceType": "Bundle", "entry": [{"resource": {"type": "event-\\u0000notification"}}]}',
    ],
    ids=["string", "array", "number", "null", "bool", "nested-array", "nested-object", "nul-character"],
)
def test_non_object_or_deeply_nested_json_is_a_400(client, link, raw):
    response = _post(client, link.payer_id, raw)
    assert response.status_code == 400
    assert "error" in response.json()


def test_invalid_utf8_is_a_400(client, link):
    response = client.post(
        f"/integrations/pas/notify/{link.payer_id}/",
        data=b'{"a": "\xff\xfe"}',
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {SECRET}",
    )
    assert response.status_code == 400
