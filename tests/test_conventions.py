"""Conventions the codebase keeps, checked over the source tree.

1. Only `cases/transitions.py` writes a case's status (STYLE.md §1).
2. No `print(` in application code, and no log call that formats patient fields (PHI).
3. Background task functions take ids, and tasks are enqueued with ids.
4. No import circles in `cases` and `payers` (a deferred, function-level import counts).
5. Only integrations/llm reads the LLM endpoint's settings, so it is the one place that calls it (STYLE.md §5).
6. `cases/` and `payers/` import no integration but the seams (base, registry, the submission engine).
7. A vendor SDK is imported only inside its channel's package (STYLE.md §5).
8. No private name (`_x`) is imported from another module.
9. Every payer channel value is registered, and the channel seams name no channel.
10. No template in templates/cases/ includes an integration's template: sections register.

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


# --- import circles --------------------------------------------------------------------

# The apps whose modules may not import each other in a circle. A function-level
# import counts: it only defers the circle to the first call.
IMPORT_GRAPH_APPS = ("cases", "payers", "integrations")
# Circles known and tolerated until their own change lands, each as the edge that
# closes it (dropped from the graph before the search). Everything else is a failure.
TOLERATED_IMPORTS = {
    # The status groups (OPEN_STATUSES, AWAITING_PAYER …) live beside ALLOWED in
    # cases.transitions, which imports cases.models; models (`is_open`) and the
    # querysets read them at call time. Goes when the groups need no model import.
    ("cases.models", "cases.transitions"): "status groups",
    ("cases.querysets", "cases.transitions"): "status groups",
    # The package exports its 278 parser by name (issue 14: `integrations.x12_278.parse_278_response`),
    # importing it at call time; a package re-exporting its own module is no real circle.
    ("integrations.x12_278", "integrations.x12_278.parse"): "package export",
}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, name: str, *, is_package: bool = False) -> set[str]:
    """Every module importing this source runs: each name imported, anywhere in the file, and its parent packages.

    `from cases import transitions` imports `cases.transitions`; `import
    cases.sweep.models` runs `cases/sweep/__init__.py` first, so the package
    is an edge too.
    """
    package = name if is_package else name.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {".".join(n.split(".")[:i]) for n in names for i in range(1, n.count(".") + 2)}


def import_circles(modules: dict[str, set[str]], tolerated=()) -> list[list[str]]:
    """The circles of an import graph {module: modules it imports}, each as a path back to its start.

    Edges to modules outside the graph and the `tolerated` (from, to) edges are
    ignored. One circle per strongly connected group, so a report stays short.
    """
    graph = {
        m: sorted((targets & modules.keys()) - {m} - {t for f, t in tolerated if f == m})
        for m, targets in modules.items()
    }
    circles, state = [], {}  # state: 1 on the current path, 2 done

    def visit(node, path):
        state[node] = 1
        path.append(node)
        for target in graph[node]:
            if state.get(target) == 1:
                circles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, path)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return circles


def app_import_graph(root: Path, apps=IMPORT_GRAPH_APPS) -> dict[str, set[str]]:
    graph = {}
    for app in apps:
        for path in sorted((root / app).rglob("*.py")):
            if SKIP_DIRS.intersection(path.relative_to(root).parts) or "migrations" in path.parts:
                continue
            name = module_name(path, root)
            graph[name] = imported_modules(path.read_text(), name, is_package=path.name == "__init__.py")
    return graph


LLM_SETTINGS = {"LLM_BASE_URL", "LLM_API_KEY"}
LLM_PACKAGE = ROOT / "integrations" / "llm"
SETTINGS_FILE = ROOT / "priorauth" / "settings.py"


def llm_endpoint_reads(source: str) -> list[tuple[int, str]]:
    """`settings.LLM_BASE_URL`, `getattr(settings, "LLM_API_KEY")` and the like."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in LLM_SETTINGS:
            found.append((node.lineno, f"reads {node.attr}"))
        if isinstance(node, ast.Constant) and node.value in LLM_SETTINGS:
            found.append((node.lineno, f"names {node.value}"))
    return found


# --- layering: cases and payers know the channel seams, not the channels ----------------

# What cases/ and payers/ may import from integrations: the seams every channel plugs into.
INTEGRATION_SEAMS = ("integrations", "integrations.base", "integrations.registry", "integrations.submission")


def integration_imports(source: str) -> list[tuple[int, str]]:
    """Imports of an integrations module other than the seams (a function-level import counts)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + (
                [f"{node.module}.{alias.name}" for alias in node.names] if node.module == "integrations" else []
            )
        for name in names:
            if name.split(".")[0] != "integrations" or name == "integrations":
                continue
            if not any(name == seam or name.startswith(seam + ".") for seam in INTEGRATION_SEAMS[1:]):
                found.append((node.lineno, f"imports {name}"))
    return found


# Vendor SDK (top-level import name) -> the one package that may import it.
VENDOR_SDKS = {
    "twilio": "integrations/sms_twilio",
    "fhirclient": "integrations/ehr_fhir",
    "telnyx": "integrations/fax",
    "sinch": "integrations/fax",
    "pyx12": "integrations/x12_278",
    "x12sdk": "integrations/x12_278",
    "openai": "integrations/llm",
}


def vendor_imports(source: str) -> set[str]:
    """The vendor SDKs a source imports (anywhere in the file)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found & VENDOR_SDKS.keys()


def sdk_problems(files) -> list[str]:
    problems = []
    for path in files:
        rel = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.as_posix()
        for sdk in sorted(vendor_imports(path.read_text())):
            home = VENDOR_SDKS[sdk]
            if not (rel.startswith(home + "/") or f"/{home}/" in f"/{rel}"):
                problems.append(f"{rel}: imports {sdk} (only {home}/ may)")
    return problems


PROJECT_PACKAGES = {"cases", "payers", "integrations", "priorauth", "tests", "bench"}


def private_imports(source: str) -> list[tuple[int, str]]:
    """`from <project module> import _name`: a helper another module relies on must be public."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] in PROJECT_PACKAGES):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append((node.lineno, f"imports {node.module}.{alias.name}"))
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


def test_cases_and_payers_have_no_import_circles():
    graph = app_import_graph(ROOT)
    # the graph sees the modules whose circles were broken (issue 12)
    assert {"cases.models", "cases.querysets", "cases.sweep", "cases.sweep.models", "payers.rules"} <= graph.keys()
    circles = import_circles(graph, TOLERATED_IMPORTS)
    assert circles == [], "import circles (a function-level import counts):\n" + "\n".join(
        " -> ".join(c) for c in circles
    )


def test_only_the_llm_channel_reads_the_llm_endpoint():
    files = [p for p in source_files() if p != SETTINGS_FILE and not p.is_relative_to(LLM_PACKAGE)]
    problems = _scan(llm_endpoint_reads, files)
    assert problems == [], "call the LLM through integrations.llm:\n" + "\n".join(problems)
    assert _scan(llm_endpoint_reads, LLM_PACKAGE.glob("*.py")), "the check no longer sees integrations/llm"


def test_cases_and_payers_import_no_channel():
    files = [
        p for app in ("cases", "payers") for p in sorted((ROOT / app).rglob("*.py")) if "migrations" not in p.parts
    ]
    assert len(files) > 30
    problems = _scan(integration_imports, files)
    assert problems == [], "cases/ and payers/ use integrations.base, .registry or .submission only:\n" + "\n".join(
        problems
    )


def test_vendor_sdks_stay_in_their_channel():
    files = [p for p in ROOT.rglob("*.py") if not {".venv", "node_modules", ".git"} & set(p.relative_to(ROOT).parts)]
    assert sdk_problems(files) == []
    # the check sees the real SDK imports (an empty scan would pass by accident)
    seen = {sdk for p in files for sdk in vendor_imports(p.read_text())}
    assert {"twilio"} <= seen


def test_no_private_name_is_imported_from_another_module():
    files = [p for p in ROOT.rglob("*.py") if not {".venv", "node_modules", ".git"} & set(p.relative_to(ROOT).parts)]
    problems = _scan(private_imports, files)
    assert problems == [], "make the helper public, or keep it in its module:\n" + "\n".join(problems)


def test_every_payer_channel_is_registered_and_the_seams_name_no_channel():
    from integrations.base import PayerChannel
    from integrations.registry import CHANNELS, get_channel
    from payers.models import Channel

    assert set(Channel.values) <= CHANNELS.keys()
    for name in Channel.values:
        channel = get_channel(name)
        assert isinstance(channel, PayerChannel) and channel.name == name
        assert {"automated", "can_poll", "can_update", "can_cancel"} <= set(dir(channel))
    # base.py's docstrings describe the seams, not one channel (the engine reads only these names)
    tree = ast.parse((ROOT / "integrations" / "base.py").read_text())
    docstrings = [
        ast.get_docstring(n) or ""
        for n in ast.walk(tree)
        if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    assert not [d for d in docstrings if re.search(r"\bPAS\b|Da Vinci|ClaimResponse|\$inquire", d)]


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


def test_the_circle_check_catches_a_planted_circle(tmp_path):
    # given a tiny app whose models import a queryset module that imports the
    # models back inside a function, and a sweep package whose __init__ imports its services
    files = {
        "app/__init__.py": "",
        "app/models.py": "from app.querysets import CaseQuerySet\nfrom app.sweep.models import Sweep\n",
        "app/querysets.py": "def needing():\n    from app.models import Task\n",
        "app/sweep/__init__.py": "from .services import sweep_run\n",
        "app/sweep/models.py": "X = 1\n",
        "app/sweep/services.py": "from app import models\n",
        "app/tasks.py": "from app.models import Task\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = app_import_graph(tmp_path, apps=("app",))
    # then both circles are reported, the deferred one and the one through a package's __init__
    circles = {" -> ".join(c) for c in import_circles(graph)}
    assert circles == {
        "app.models -> app.querysets -> app.models",
        "app.models -> app.sweep -> app.sweep.services -> app.models",
    }
    # and a tolerated edge is not reported, while the other circle still is
    assert import_circles(graph, {("app.querysets", "app.models")}) == [
        ["app.models", "app.sweep", "app.sweep.services", "app.models"]
    ]


def test_the_circle_check_reads_relative_and_package_imports():
    assert imported_modules("from . import transitions", "cases.querysets") >= {"cases", "cases.transitions"}
    assert imported_modules("from .models import X", "cases.sweep", is_package=True) >= {"cases.sweep.models"}
    assert imported_modules("import cases.sweep.models", "x") == {"cases", "cases.sweep", "cases.sweep.models"}


@pytest.mark.parametrize(
    "planted",
    ["url = settings.LLM_BASE_URL + '/chat/completions'", "key = getattr(settings, 'LLM_API_KEY', '')"],
)
def test_the_llm_check_catches_a_planted_endpoint_read(tmp_path, planted):
    module = tmp_path / "summary.py"
    module.write_text(f"def rewrite(settings):\n    {planted}\n")
    assert _scan(llm_endpoint_reads, [module]) != []


def test_script_folders_do_not_shadow_the_standard_library():
    # `python bench/x.py` puts bench/ first on sys.path: a bench/queue.py once
    # replaced the stdlib `queue` and broke psycopg's import in every script.
    import sys

    for folder in ("bench", ".ci"):
        shadowing = sorted(p.name for p in (ROOT / folder).glob("*.py") if p.stem in sys.stdlib_module_names)
        assert not shadowing, f"{folder}/ scripts named like standard modules: {shadowing}"


def test_the_layering_check_catches_a_planted_channel_import(tmp_path):
    module = tmp_path / "services.py"
    module.write_text(
        "from integrations.registry import channel_for\n"
        "from integrations.submission.services import submission_request\n"
        "def f():\n    from integrations.pas.services import case_poll\n"
        "from integrations import pas\n"
        "import integrations.sms_twilio.services\n"
    )
    # the seams pass; a channel imported at module level, in a function or as a package does not
    assert sorted(what for _, what in integration_imports(module.read_text())) == [
        "imports integrations.pas",
        "imports integrations.pas.services",
        "imports integrations.sms_twilio.services",
    ]


def test_the_sdk_check_catches_a_vendor_import_outside_its_package(tmp_path):
    (tmp_path / "cases").mkdir()
    planted = tmp_path / "cases" / "notify.py"
    planted.write_text("from twilio.rest import Client\n")
    home = tmp_path / "integrations" / "sms_twilio"
    home.mkdir(parents=True)
    allowed = home / "notifiers.py"
    allowed.write_text("import twilio\n")
    assert sdk_problems([planted]) == [f"{planted.as_posix()}: imports twilio (only integrations/sms_twilio/ may)"]
    assert sdk_problems([allowed]) == []


def test_the_private_import_check_catches_a_planted_import(tmp_path):
    source = (
        "from cases.views import _get_case_for_user\n"
        "from integrations.fhir_json import fhir_response as _json\n"  # a public name, privately aliased: fine
        "from os import _exit\n"  # not ours
    )
    assert [what for _, what in private_imports(source)] == ["imports cases.views._get_case_for_user"]


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


# --- templates under a strict Content-Security-Policy ------------------------------------

INLINE = re.compile(r"""\sstyle\s*=|<script(?![^>]*\bsrc=)|\son[a-z]+\s*=\s*["']""", re.IGNORECASE)


def inline_code(source: str) -> list[tuple[int, str]]:
    """A style attribute, an inline <script> or an on…= handler: a strict CSP refuses each."""
    return [(source.count("\n", 0, m.start()) + 1, f"inline {m.group(0).strip()}") for m in INLINE.finditer(source)]


def test_templates_have_no_inline_style_script_or_handler():
    templates = sorted((ROOT / "templates").rglob("*.html"))
    assert len(templates) > 20
    problems = _scan(inline_code, templates)
    assert problems == [], "move it to static/ (a class or a script file):\n" + "\n".join(problems)


def test_the_inline_check_catches_planted_inline_code(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('<div style="x">\n<script>alert(1)</script>\n<a onclick="f()">\n<script src="/s.js"></script>\n')
    assert [line for line, _ in inline_code(page.read_text())] == [1, 2, 3]
