"""Response headers: a strict Content-Security-Policy and a Permissions-Policy on every HTML response."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from priorauth.security import CONTENT_SECURITY_POLICY, PERMISSIONS_POLICY

# Values for every URL parameter the project's patterns use (tests/test_url_access_matrix.py walks the same names).
KWARGS = {"doc_pk": 1, "task_pk": 1, "payer": "acme", "payer_id": 1, "op": "submit", "token": "x", "path": "metadata"}
KWARGS.update({"key": "not-a-key", "uidb36": "x", "type": "x"})


def _patterns(patterns, namespace="", params=()):
    """(name, parameter names) of every named URL, walking includes; the admin's own pages are listed apart."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace or ""
            if inner == "admin":
                continue
            ns = f"{namespace}:{inner}" if namespace and inner else inner or namespace
            yield from _patterns(pattern.url_patterns, ns, (*params, *pattern.pattern.regex.groupindex))
        elif isinstance(pattern, URLPattern) and pattern.name:
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield name, (*params, *pattern.pattern.regex.groupindex)


def _every_url(case_pk):
    urls = set()
    for name, params in _patterns(get_resolver().url_patterns):
        kwargs = {k: (case_pk if k == "pk" else KWARGS.get(k, 1)) for k in params}
        try:
            urls.add(reverse(name, kwargs=kwargs))
        except Exception:  # noqa: BLE001 - a parameter shape this map does not fill: listed below
            urls.add(f"unreversed:{name}")
    return sorted(urls)


def test_the_policy_is_strict():
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"


@pytest.mark.parametrize("who", ["anonymous", "manager", "coordinator"])
def test_every_html_response_carries_the_csp_header(as_user, who, case, settings):
    settings.SANDBOX_ENABLED = True
    client = as_user(who)
    urls = _every_url(case.pk)
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
    assert """<meta name="htmx-config" content='{"includeIndicatorStyles": false}'>""" in body
