"""Every named URL of the project has a row in the access matrix (Zulip's untested-URL idea).

The names come from the resolver at run time, so a URL added (or renamed)
without a matrix row fails here. The rows declare what they cover with
`tests.access_matrix.covers`; the modules holding them are the
`test_*access*.py` files under tests/.
"""

import importlib
from pathlib import Path

from django.urls import URLPattern, URLResolver, get_resolver

from tests.access_matrix import COVERED

TESTS = Path(__file__).resolve().parent
# The admin is Django's, guarded by is_staff and model permissions, not by our table.
EXCLUDED_NAMESPACES = {"admin"}


def url_names(patterns, namespace: str = "") -> set[str]:
    """Every URL name reachable from these patterns, as `namespace:name`, walking includes."""
    names = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace or ""
            if inner in EXCLUDED_NAMESPACES:
                continue
            prefix = f"{namespace}:{inner}" if namespace and inner else (inner or namespace)
            names |= url_names(pattern.url_patterns, prefix)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)
    return names


def matrix_modules() -> list[str]:
    return sorted(
        ".".join(path.relative_to(TESTS.parent).with_suffix("").parts) for path in TESTS.rglob("test_*access*.py")
    )


def untested(all_names: set[str], covered) -> list[str]:
    return sorted(all_names - set(covered))


def test_every_url_name_has_an_access_matrix_row():
    # given every access-matrix module is imported (its `covers` calls run at import)
    modules = matrix_modules()
    assert "tests.cases.test_views_access" in modules
    for module in modules:
        importlib.import_module(module)
    # then every named URL of the project is covered by at least one row
    names = url_names(get_resolver().url_patterns)
    assert {"cases:detail", "sms_twilio:case_opt_out"} <= names, "the resolver walk found too little"
    missing = untested(names, COVERED)
    assert missing == [], "URL names without an access-matrix row (see tests/access_matrix.py):\n" + "\n".join(missing)


def test_the_check_reports_a_planted_untested_url():
    # given a URLconf with an included, namespaced app whose second view has no matrix row
    from django.urls import include, path

    def view(request):
        raise AssertionError("never called")

    planted = [
        path("login/", view, name="login"),
        path("admin/", include(([path("x/", view, name="index")], "admin"))),
        path("", include(([path("a/", view, name="seen"), path("b/", view, name="forgotten")], "shop"))),
        path("unnamed/", view),
    ]
    names = url_names(planted)
    assert names == {"login", "shop:seen", "shop:forgotten"}
    # then the check names exactly the one nobody covers
    assert untested(names, {"login": {"x"}, "shop:seen": {"x"}}) == ["shop:forgotten"]
