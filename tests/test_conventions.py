"""Conventions the codebase keeps, checked over the source tree.

1. Only `cases/transitions.py` writes a case's status (STYLE.md §1).
2. No `print(` in application code, and no log call that formats patient fields (PHI).
3. Background task functions take ids, and tasks are enqueued with ids.
4. No template in templates/cases/ includes an integration's template: sections register.

Each check is a function over Python source, run on the real tree and on
planted examples so the check itself can fail.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# tests/ builds fixtures with factories that place cases in a status directly
# (CaseFactory(status=...)); that is fixture data, not application code.
SKIP_DIRS = {".venv", "node_modules", "tests", ".git", "staticfiles", "media", "__pycache__", "bench"}
THE_WRITER = ROOT / "cases" / "transitions.py"

# Calls whose `status=` keyword (or "status" key in a dict argument) writes a row.
WRITING_CALLS = {"update", "create", "get_or_create", "update_or_create", "bulk_create", "PriorAuthCase"}
RAW_SQL_STATUS = re.compile(r"UPDATE\s+\"?\w*priorauthcase\"?\s+SET\b[^;]*?\bstatus\"?\s*=", re.IGNORECASE)


def source_files():
    for path in sorted(ROOT.rglob("*.py")):
        if SKIP_DIRS.intersection(path.relative_to(ROOT).parts):
            continue
        yield path


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _is_status_string(node) -> bool:
    return isinstance(node, ast.Constant) and node.value == "status"


def status_writes(source: str) -> list[tuple[int, str]]:
    """(line, what) for every place this source writes a `status` field."""
    found = []
    tree = ast.parse(source)
    # Names of dicts that carry a "status" key (`updates["status"] = ...` or
    # `updates = {"status": ...}`), so `update(**updates)` is caught too.
    status_dicts = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.value, ast.Name)
                    and _is_status_string(target.slice)
                ):
                    status_dicts.add(target.value.id)
                if (
                    isinstance(target, ast.Name)
                    and isinstance(node.value, ast.Dict)
                    and any(_is_status_string(k) for k in node.value.keys)
                ):
                    status_dicts.add(target.id)
    for node in ast.walk(tree):
        # x.status = ..., x.status += ..., a, x.status = ...
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Attribute) and sub.attr == "status":
                        found.append((node.lineno, "assigns .status"))
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        # setattr(case, "status", ...)
        if name == "setattr" and len(node.args) >= 2 and _is_status_string(node.args[1]):
            found.append((node.lineno, "setattr status"))
        # save(update_fields=["status", ...]) and bulk_update(objs, ["status"])
        if name in ("save", "save_base", "bulk_update"):
            field_lists = [kw.value for kw in node.keywords if kw.arg in ("update_fields", "fields")]
            field_lists += node.args[1:] if name == "bulk_update" else []
            if any(_is_status_string(e) for value in field_lists for e in ast.walk(value)):
                found.append((node.lineno, f"{name}(... 'status' ...)"))
        if name in WRITING_CALLS:
            # .update(status=...), .create(status=...), PriorAuthCase(status=...)
            if any(kw.arg == "status" for kw in node.keywords):
                found.append((node.lineno, f"{name}(status=...)"))
            # .update(**{"status": ...}), update_or_create(defaults={"status": ...})
            for value in [*node.args, *(kw.value for kw in node.keywords)]:
                if isinstance(value, ast.Dict) and any(_is_status_string(k) for k in value.keys):
                    found.append((node.lineno, f"{name}({{'status': ...}})"))
                if isinstance(value, ast.Name) and value.id in status_dicts:
                    found.append((node.lineno, f"{name}(**{value.id}) with a 'status' key"))
    for match in RAW_SQL_STATUS.finditer(source):
        found.append((source.count("\n", 0, match.start()) + 1, "raw SQL SET status"))
    return found


PHI_ATTRIBUTES = {"first_name", "last_name", "birth_date", "mrn", "mobile_phone", "member_id", "summary_text"}
PHI_OBJECTS = {"patient", "case", "order", "coverage"}
LOG_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}
LOGGER_NAMES = {"log", "logger", "logging", "_log", "_logger", "LOG", "LOGGER"}


def phi_output(source: str) -> list[tuple[int, str]]:
    """`print(` anywhere, or a log call whose arguments read a patient field."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id == "print":
            found.append((node.lineno, "print("))
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in LOG_METHODS
            and isinstance(func.value, ast.Name)
            and func.value.id in LOGGER_NAMES
        ):
            for arg in [*node.args, *(kw.value for kw in node.keywords)]:
                subs = list(ast.walk(arg))
                # `case.pk` is fine; a bare `case` is formatted with its str().
                attribute_bases = {id(sub.value) for sub in subs if isinstance(sub, ast.Attribute)}
                for sub in subs:
                    if isinstance(sub, ast.Attribute) and sub.attr in PHI_ATTRIBUTES:
                        found.append((node.lineno, f"logs .{sub.attr}"))
                    if isinstance(sub, ast.Name) and sub.id in PHI_OBJECTS and id(sub) not in attribute_bases:
                        found.append((node.lineno, f"logs the {sub.id} object (its str may carry PHI)"))
    return found


ID_ANNOTATIONS = {"int", "str", "None", "bool"}


def _is_id_param(arg: ast.arg) -> bool:
    if arg.arg.endswith(("_id", "_ids", "_pk")) or arg.arg in {"pk", "ids"}:
        return True
    return arg.annotation is not None and ast.unparse(arg.annotation) in ID_ANNOTATIONS


def task_signature_problems(source: str) -> list[tuple[int, str]]:
    """Public functions of a tasks.py whose parameters are not ids (or plain scalars)."""
    found = []
    for node in ast.parse(source).body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.name.startswith("_"):
            continue
        args = node.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            if not _is_id_param(arg):
                found.append((node.lineno, f"{node.name}({arg.arg}) is not an id"))
        if args.vararg or args.kwarg:
            found.append((node.lineno, f"{node.name} takes *args/**kwargs"))
    return found


def _is_task_path(node) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and ".tasks." in node.value


def async_task_argument_problems(source: str) -> list[tuple[int, str]]:
    """Task arguments that are not ids.

    Checked on `async_task(...)` and on any call whose first argument is a
    dotted task path ("app.tasks.name"), which catches enqueue helpers too.
    Accepted: a literal, a name ending _id/_ids/pk, `x.pk`, `x.id`, `x.y_id`,
    and a helper forwarding its own `*args` (its callers are checked).
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        if not (_call_name(node) == "async_task" or (node.args and _is_task_path(node.args[0]))):
            continue
        for arg in node.args[1:]:
            ok = (
                isinstance(arg, ast.Constant)
                or (isinstance(arg, ast.Name) and arg.id.endswith(("_id", "_ids", "pk")))
                or (isinstance(arg, ast.Attribute) and (arg.attr in {"pk", "id"} or arg.attr.endswith("_id")))
                or (isinstance(arg, ast.Starred) and isinstance(arg.value, ast.Name) and arg.value.id == "args")
            )
            if not ok:
                found.append((node.lineno, f"task argument {ast.unparse(arg)} is not an id"))
    return found


def case_reads_in_views(source: str) -> list[tuple[int, str]]:
    """`PriorAuthCase.objects.<anything but visible_to>` inside a staff view.

    Views marked `@login_not_required` are machine endpoints (payer or SMS
    webhooks) that authenticate another way; they are not checked.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.name.startswith("_"):
            continue
        decorators = {ast.unparse(d).split("(")[0].split(".")[-1] for d in node.decorator_list}
        if "login_not_required" in decorators:
            continue
        for sub in ast.walk(node):
            if (
                isinstance(sub, ast.Attribute)
                and isinstance(sub.value, ast.Attribute)
                and sub.value.attr == "objects"
                and isinstance(sub.value.value, ast.Name)
                and sub.value.value.id == "PriorAuthCase"
                and sub.attr != "visible_to"
            ):
                found.append((sub.lineno, f"{node.name}: PriorAuthCase.objects.{sub.attr} (use visible_to(user))"))
    return found


def _scan(check, files):
    problems = []
    for path in files:
        name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
        for lineno, what in check(path.read_text()):
            problems.append(f"{name}:{lineno}: {what}")
    return problems


# --- the real tree ------------------------------------------------------------------


def test_the_scan_sees_the_application_code():
    files = {p.relative_to(ROOT).as_posix() for p in source_files()}
    assert {"cases/transitions.py", "cases/services.py", "payers/rules.py"} <= files
    assert not any(name.startswith("tests/") for name in files)


def test_only_transitions_writes_a_case_status():
    problems = _scan(status_writes, (p for p in source_files() if p != THE_WRITER))
    assert problems == [], "status is written only by cases.transitions.transition():\n" + "\n".join(problems)


def test_the_writer_itself_is_seen_by_the_check():
    # The one writer assigns the status; if the check missed it, it would miss others.
    assert any(what == "assigns .status" for _, what in status_writes(THE_WRITER.read_text()))


def test_application_code_neither_prints_nor_logs_patient_fields():
    problems = _scan(phi_output, source_files())
    assert problems == [], "use logging with ids only:\n" + "\n".join(problems)


def test_task_functions_take_ids():
    task_files = [p for p in source_files() if p.name == "tasks.py"]
    assert task_files, "no tasks.py found: the scan is looking in the wrong place"
    problems = _scan(task_signature_problems, task_files)
    assert problems == [], "\n".join(problems)


def test_tasks_are_enqueued_with_ids():
    problems = _scan(async_task_argument_problems, source_files())
    assert problems == [], "\n".join(problems)


def test_views_get_cases_only_through_visible_to():
    view_files = [p for p in source_files() if p.name == "views.py" or "views" in p.parent.name]
    assert any(p.as_posix().endswith("cases/views.py") for p in view_files)
    problems = _scan(case_reads_in_views, view_files)
    assert problems == [], "views get cases via PriorAuthCase.objects.visible_to(user):\n" + "\n".join(problems)


# --- planted examples: each check can fail -------------------------------------------


@pytest.mark.parametrize(
    "planted",
    [
        "case.status = 'approved'",
        "self.case.status = Status.DENIED",
        "a, case.status = 1, 'x'",
        "setattr(case, 'status', 'approved')",
        "PriorAuthCase.objects.filter(pk=1).update(status='approved')",
        "PriorAuthCase.objects.filter(pk=1).update(**{'status': 'approved'})",
        "PriorAuthCase.objects.create(order=o, status='submitted')",
        "PriorAuthCase(order=o, status='submitted').save()",
        "PriorAuthCase.objects.update_or_create(order=o, defaults={'status': 'closed'})",
        "case.save(update_fields=['status', 'decided_at'])",
        "PriorAuthCase.objects.bulk_update(cases, ['status'])",
        "cursor.execute('UPDATE cases_priorauthcase SET status = %s WHERE id = %s', ['x', 1])",
        "updates = {}; updates['status'] = 'closed'; PriorAuthCase.objects.filter(pk=1).update(**updates)",
        "values = {'status': 'closed'}; PriorAuthCase.objects.update_or_create(order=o, defaults=values)",
    ],
)
def test_the_status_check_catches_a_planted_write(tmp_path, planted):
    # given a module in a temporary file that writes a status
    module = tmp_path / "planted.py"
    module.write_text(f"def sneaky(case, o, cases, cursor):\n    {planted}\n")
    # then the scan reports it
    assert _scan(status_writes, [module]) != []


@pytest.mark.parametrize(
    "harmless",
    [
        "return HttpResponse(status=204)",
        "x = case.status",
        "PriorAuthCase.objects.filter(status='approved').count()",
        "transition(case, 'approved', actor=user)",
        "row.delivery_state = 'sent'",
        "resource = {}; resource['status'] = 'active'; post(json=resource)",
    ],
)
def test_the_status_check_leaves_reads_and_other_fields_alone(tmp_path, harmless):
    module = tmp_path / "fine.py"
    module.write_text(f"def fine(case, user, row):\n    {harmless}\n")
    assert _scan(status_writes, [module]) == []


@pytest.mark.parametrize(
    "planted",
    [
        "print(patient.first_name)",
        "print('hello')",
        "log.info('texting %s', patient.mobile_phone)",
        "logger.warning(f'case for {case.patient.last_name}')",
        "log.error('order %s', order)",
    ],
)
def test_the_phi_check_catches_a_planted_print_or_log(tmp_path, planted):
    module = tmp_path / "planted.py"
    module.write_text(f"def leak(patient, case, order, log, logger):\n    {planted}\n")
    assert _scan(phi_output, [module]) != []


def test_the_phi_check_allows_logging_ids(tmp_path):
    module = tmp_path / "fine.py"
    module.write_text("def ok(case, log):\n    log.info('case %s moved', case.pk)\n")
    assert _scan(phi_output, [module]) == []


def test_the_task_checks_catch_objects_passed_to_tasks(tmp_path):
    module = tmp_path / "tasks.py"
    module.write_text(
        "def send(message):\n    pass\n"
        "def fine(case_id: int, attempt: int = 0):\n    pass\n"
        "def _enqueue(case):\n    async_task('x.tasks.send', case)\n"
        "def _helper(func, *args):\n    async_task(func, *args)\n"
        "def _later(case):\n    _helper('x.tasks.send', case)\n"
    )
    assert _scan(task_signature_problems, [module]) == ["tasks.py:1: send(message) is not an id"]
    assert [p.split(":")[1] for p in _scan(async_task_argument_problems, [module])] == ["6", "10"]


def test_the_view_check_catches_a_case_read_around_visible_to(tmp_path):
    module = tmp_path / "views.py"
    module.write_text(
        "@login_required\n"
        "def detail(request, pk):\n"
        "    return get_object_or_404(PriorAuthCase.objects.all(), pk=pk)\n"
        "@login_required\n"
        "def fine(request, pk):\n"
        "    return get_object_or_404(PriorAuthCase.objects.visible_to(request.user), pk=pk)\n"
        "@login_not_required\n"
        "def webhook(request):\n"
        "    return PriorAuthCase.objects.filter(payer_tracking_id='x')\n"
    )
    assert _scan(case_reads_in_views, [module]) == [
        "views.py:3: detail: PriorAuthCase.objects.all (use visible_to(user))"
    ]


def test_script_folders_do_not_shadow_the_standard_library():
    # `python bench/x.py` puts bench/ first on sys.path: a bench/queue.py once
    # replaced the stdlib `queue` and broke psycopg's import in every script.
    import sys

    for folder in ("bench", ".ci"):
        shadowing = sorted(p.name for p in (ROOT / folder).glob("*.py") if p.stem in sys.stdlib_module_names)
        assert not shadowing, f"{folder}/ scripts named like standard modules: {shadowing}"


INCLUDE = re.compile(r"""{%\s*include\s+["']([\w-]+)/""")
# What a template under templates/cases/ may include: its own app and the shared pieces.
CASE_TEMPLATE_INCLUDES = {"cases", "includes"}


def foreign_includes(source: str) -> list[tuple[int, str]]:
    """A cases/ template including another app's template (it should register a case section instead)."""
    return [
        (source.count("\n", 0, m.start()) + 1, f"includes {m.group(1)}/… (use cases.ui.case_section_register)")
        for m in INCLUDE.finditer(source)
        if m.group(1) not in CASE_TEMPLATE_INCLUDES
    ]


def test_case_templates_include_no_integration_template():
    templates = sorted((ROOT / "templates" / "cases").glob("*.html"))
    assert templates, "no case templates found: the scan is looking in the wrong place"
    problems = _scan(foreign_includes, templates)
    assert problems == [], "\n".join(problems)


def test_the_include_check_catches_a_planted_integration_include(tmp_path):
    page = tmp_path / "_sections.html"
    page.write_text('{% include "cases/_x.html" %}\n{% include "sms_twilio/_case_messages.html" %}\n')
    assert _scan(foreign_includes, [page]) == [
        "_sections.html:2: includes sms_twilio/… (use cases.ui.case_section_register)"
    ]
