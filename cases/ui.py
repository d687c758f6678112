"""Sections other apps add to the case page.

An app calls `case_section_register("myapp/_case_thing.html")` in its
AppConfig.ready(); the case page includes each template with the page's
context (`case`, `actions`, `now` …). A section fetches what it needs from
`case` with one query of its own, so the page's query count stays constant.
The EHR write-backs, the PAS submission and the patient texts come in this
way; no template under templates/cases/ includes an integration's template
(tests/test_conventions.py).
"""

_SECTIONS: list[tuple[int, str, str]] = []


def case_section_register(template_name: str, *, column: str = "main", order: int = 100) -> None:
    if column not in ("main", "side"):
        raise ValueError("column is 'main' or 'side'")
    if not any(t == template_name for _, t, _ in _SECTIONS):
        _SECTIONS.append((order, template_name, column))
        _SECTIONS.sort()


def case_sections() -> dict[str, list[str]]:
    return {
        "main": [t for _, t, c in _SECTIONS if c == "main"],
        "side": [t for _, t, c in _SECTIONS if c == "side"],
    }
