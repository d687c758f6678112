"""Every named URL of the project as a concrete path, for tests that walk the whole app (headers, MFA gate)."""

from django.urls import URLPattern, URLResolver, get_resolver, reverse

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


def every_url(case_pk: int) -> list[str]:
    """One concrete URL per named pattern of the project (the admin apart); `unreversed:<name>` where none."""
    urls = set()
    for name, params in _patterns(get_resolver().url_patterns):
        kwargs = {k: (case_pk if k == "pk" else KWARGS.get(k, 1)) for k in params}
        try:
            urls.add(reverse(name, kwargs=kwargs))
        except Exception:  # noqa: BLE001 - a parameter shape KWARGS does not fill: the caller asserts there is none
            urls.add(f"unreversed:{name}")
    return sorted(urls)
