"""Response headers: a strict Content-Security-Policy and a Permissions-Policy on every HTML response."""

import json
import re

import pytest
from django.urls import reverse

from priorauth.security import CONTENT_SECURITY_POLICY, PERMISSIONS_POLICY
from tests.security.walk import every_url


def test_the_policy_is_strict():
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"


@pytest.mark.parametrize("who", ["anonymous", "manager", "coordinator"])
def test_every_html_response_carries_the_csp_header(as_user, who, case, settings):
    settings.SANDBOX_ENABLED = True
    client = as_user(who)
    urls = every_url(case.pk)
    assert not [u for u in urls if u.startswith("unreversed:")]
    html = 0
    for url in [*urls, "/admin/", "/admin/cases/user/", "/no-such-page/"]:
        response = client.get(url)
        if response.get("Content-Type", "").startswith("text/html"):
            html += 1
            assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, url
            assert response["Permissions-Policy"] == PERMISSIONS_POLICY, url
        # every other response carries it too (a JSON or PDF answer cannot run script, but one header is simpler)
        assert "Content-Security-Policy" in response, url
    assert html >= 10, "too few HTML pages answered: the walk is not reaching the app"


def test_htmx_does_not_inject_its_indicator_style(as_user):
    body = as_user("coordinator").get(reverse("cases:queue")).content.decode()
    config = json.loads(re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", body).group(1))
    assert config["includeIndicatorStyles"] is False
    # htmx "settles" these attributes after a swap with setAttribute, which the policy refuses for `style`: the walk
    # of the demo saw "Applying inline style violates ... style-src 'self'" after actions that changed a case's status
    assert "style" not in config["attributesToSettle"]
