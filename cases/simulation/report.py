"""A run's figures, read back from what the run left in the database (and the staff model's ledger),
their text form, small server-rendered SVG charts, and the stored runs the dashboard page shows."""

from __future__ import annotations

import json
import statistics
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from cases.models import CaseEvent, PriorAuthCase, Status, Task
from cases.transitions import AWAITING_PAYER, UNDECIDED_STATUSES

from .engine import Run

FINAL = (Status.APPROVED, Status.PARTIALLY_APPROVED, Status.DENIED)
FIRST_ANSWERS = (*FINAL, Status.PENDED)
RUNS_DIR = "simulations"


def _days(delta) -> float:
    return delta.total_seconds() / 86400


def _p90(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def figures(run: Run) -> dict:
    """Every figure of the report for one run (plain numbers, JSON-ready)."""
    practice = run.practice
    cases = PriorAuthCase.objects.filter(practice=practice).select_related("order", "payer")
    pa_cases = [c for c in cases if c.rule_id and c.status != Status.NOT_REQUIRED]
    status_events = (
        CaseEvent.objects.filter(case__practice=practice, kind=CaseEvent.Kind.STATUS)
        .order_by("created_at", "id")
        .values_list("case_id", "to_status", "created_at")
    )
    first_answer: dict[int, str] = {}
    decided_at: dict[int, datetime] = {}
    for case_id, to_status, at in status_events:
        if to_status in FIRST_ANSWERS and case_id not in first_answer:
            first_answer[case_id] = to_status
        if to_status in FINAL and case_id not in decided_at:
            decided_at[case_id] = at
    by_id = {c.pk: c for c in pa_cases}
    answered = [cid for cid in first_answer if cid in by_id]
    first_pass = sum(first_answer[cid] in (Status.APPROVED, Status.PARTIALLY_APPROVED) for cid in answered)
    to_decision = [_days(decided_at[cid] - by_id[cid].order.created_at) for cid in decided_at if cid in by_id]

    approved = [c for c in pa_cases if c.pk in decided_at and first_status(c, decided_at) is not None]
    # Read through the cases' reverse relations: cases/ imports no integration's models (conventions).
    texts = cases.filter(outbound_messages__sent_at__isnull=False).values_list("pk", "outbound_messages__sent_at")
    text_delay_h = []
    told: dict[int, datetime] = dict(run.patient_told)
    for case_id, sent_at in sorted(texts, key=lambda row: (row[1], row[0])):
        if case_id in decided_at and sent_at >= decided_at[case_id]:
            text_delay_h.append((sent_at - decided_at[case_id]).total_seconds() / 3600)
            told.setdefault(case_id, sent_at)
    waiting = [_days(told[c.pk] - c.order.created_at) for c in approved if c.pk in told]

    minutes = sum(t.minutes for t in run.touches)
    weeks = run.days / 7
    case_touches = [t for t in run.touches if t.case_id is not None]
    stalled = [r for r in run.book.requests.values() if r.stalled]
    end = run.end
    cms_missed = cms_missed_alarmed = 0
    alarms = dict(
        Task.objects.filter(case__practice=practice, kind=Task.Kind.ESCALATION, dedupe_key__startswith="deadline-")
        .values("case_id")
        .annotate(first=Min("created_at"))
        .values_list("case_id", "first")
    )
    for case in pa_cases:
        if not (case.payer and case.payer.cms_impacted and case.decision_due_at):
            continue
        known = decided_at.get(case.pk)
        missed = (known and known > case.decision_due_at) or (known is None and end > case.decision_due_at)
        if missed:
            cms_missed += 1
            cms_missed_alarmed += case.pk in alarms
    backlog_end = run.backlog[-1][1] if run.backlog else 0
    return {
        "seed": run.seed,
        "mode": "manual" if run.manual else "automated",
        "providers": run.providers,
        "days": run.days,
        "orders": practice.orders.count(),
        "pa_cases": len(pa_cases),
        "staff_minutes_per_provider_per_week": round(minutes / run.providers / weeks, 1),
        "staff_hours_per_provider_per_week": round(minutes / 60 / run.providers / weeks, 2),
        "touches_per_case": round(len(case_touches) / len(pa_cases), 2) if pa_cases else 0,
        "minutes_by_role": _by(run.touches, "role"),
        "minutes_by_action": _by(run.touches, "action"),
        "first_answers": len(answered),
        "first_pass_approval": round(first_pass / len(answered), 3) if answered else 0,
        "decided": len(to_decision),
        "median_days_to_decision": round(_median(to_decision), 2),
        "p90_days_to_decision": round(_p90(to_decision), 2),
        "patient_days_waiting": round(statistics.mean(waiting), 2) if waiting else 0,
        "backlog": run.backlog,
        "backlog_end": backlog_end,
        "backlog_per_10_providers": round(backlog_end * 10 / run.providers, 1),
        "still_undecided": sum(c.status in UNDECIDED_STATUSES for c in pa_cases),
        "awaiting_payer": sum(c.status in AWAITING_PAYER for c in pa_cases),
        "stalls": len(stalled),
        "stalls_noticed": sum(r.called for r in stalled),
        "stalls_unnoticed": sum(not r.called for r in stalled),
        "cms_deadlines_missed": cms_missed,
        "cms_deadlines_missed_with_alarm": cms_missed_alarmed,
        "cms_deadlines_missed_without_alarm": cms_missed - cms_missed_alarmed,
        "write_back_rows": cases.filter(ehr_write_backs__isnull=False).values("ehr_write_backs").count(),
        "write_backs_by_hand": run.ehr_entries,
        "texts_sent": len(text_delay_h),
        "median_text_delay_hours": round(_median(text_delay_h), 2),
        "patients_called_by_hand": len(run.patient_told),
        "workers": run.workers,
        "task_failures": len(run.task_failures),
        "task_failure_samples": run.task_failures[:5],
    }


def first_status(case, decided_at):
    return decided_at.get(case.pk) if case.status in (Status.APPROVED, Status.PARTIALLY_APPROVED) else None


def _by(touches, attribute: str) -> dict[str, int]:
    totals: dict[str, int] = {}
    for touch in touches:
        key = str(getattr(touch, attribute))
        totals[key] = totals.get(key, 0) + touch.minutes
    return dict(sorted(totals.items()))


# What the text report and the page show, in order: (key, label).
ROWS = (
    ("pa_cases", "PA cases"),
    ("staff_hours_per_provider_per_week", "Staff hours per provider per week"),
    ("staff_minutes_per_provider_per_week", "Staff minutes per provider per week"),
    ("touches_per_case", "Touches per case"),
    ("first_pass_approval", "First-pass approval"),
    ("median_days_to_decision", "Median days, order to decision"),
    ("p90_days_to_decision", "p90 days, order to decision"),
    ("patient_days_waiting", "Patient days waiting (order to told of approval)"),
    ("backlog_end", "Backlog at the end"),
    ("backlog_per_10_providers", "Backlog per 10 providers"),
    ("still_undecided", "Cases still undecided at the end"),
    ("stalls_noticed", "Stalls noticed"),
    ("stalls_unnoticed", "Stalls unnoticed"),
    ("cms_deadlines_missed_with_alarm", "CMS-0057-F deadlines missed, with an alarm"),
    ("cms_deadlines_missed_without_alarm", "CMS-0057-F deadlines missed, no alarm"),
    ("write_back_rows", "EHR write-backs recorded (outbox rows)"),
    ("write_backs_by_hand", "Authorizations typed into the EHR by hand"),
    ("texts_sent", "Patient texts sent"),
    ("median_text_delay_hours", "Median text delay after the decision (h)"),
    ("patients_called_by_hand", "Patients phoned about an approval"),
    ("task_failures", "Cluster tasks that raised"),
)


def text_report(results: list[dict]) -> str:
    """The figures as a table, one column per run (automated and by hand side by side when both ran)."""
    first = results[0]
    lines = [f"Seed {first['seed']}: {first['providers']} providers x {first['days']} days, {first['orders']} orders"]
    workers = first.get("workers")
    lines.append(f"  tasks run by {workers} cluster worker(s)" if workers else "  tasks run inline (no cluster)")
    names = {"automated": "automated", "manual": "by hand"}
    lines.append(f"  {'':52}" + "".join(f" {names[r['mode']]:>12}" for r in results))
    for key, label in ROWS:
        lines.append(f"  {label:52}" + "".join(f" {r[key]!s:>12}" for r in results))
    return "\n".join(lines) + "\n"


# --- stored runs ---------------------------------------------------------------------------------------


def runs_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / RUNS_DIR


def store(result: dict, *, elapsed_seconds: float) -> Path:
    """Keep one run's figures as a JSON file under MEDIA_ROOT/simulations/ (synthetic data only, no PHI)."""
    directory = runs_dir()
    directory.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S%f")
    mode = "manual" if result["mode"] == "manual" else "auto"
    path = directory / f"{stamp}-seed{result['seed']}-{result['providers']}p{result['days']}d-{mode}.json"
    payload = {**result, "stored_at": timezone.now().isoformat(), "elapsed_seconds": round(elapsed_seconds, 1)}
    path.write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")
    return path


def latest_pairs(limit: int = 5) -> list[dict]:
    """The newest stored comparisons, newest first: for each seed and size, its newest automated run
    beside its newest manual one (a side missing is None). Files that do not read as a run are skipped."""
    directory = runs_dir()
    if not directory.is_dir():
        return []
    pairs: dict[tuple, dict] = {}
    for path in sorted(directory.glob("*.json"), reverse=True)[:200]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            key = (int(data["seed"]), int(data["providers"]), int(data["days"]))
            mode = "manual" if data["mode"] == "manual" else "automated"
        except (OSError, ValueError, KeyError, TypeError):
            continue
        pair = pairs.setdefault(
            key, {"seed": key[0], "providers": key[1], "days": key[2], "stored_at": data.get("stored_at", "")}
        )
        pair.setdefault(mode, data)
    found = list(pairs.values())[:limit]
    for pair in found:
        pair.setdefault("automated", None)
        pair.setdefault("manual", None)
        if pair["automated"] and pair["manual"]:
            pair["charts"] = charts(pair["automated"], pair["manual"])
            # A run stored before a figure existed shows a dash for it.
            pair["rows"] = [
                (label, pair["automated"].get(key, "—"), pair["manual"].get(key, "—")) for key, label in ROWS
            ]
    return found


# --- charts --------------------------------------------------------------------------------------------


def backlog_svg(auto: dict, manual: dict, *, width: int = 560, height: int = 180) -> str:
    """Backlog over time, both runs, as an inline SVG polyline chart (no script, CSP-safe)."""
    series = [
        ("automated", auto.get("backlog") or [], "sim-line-auto"),
        ("by hand", manual.get("backlog") or [], "sim-line-manual"),
    ]
    top = max([1] + [v for _, points, _ in series for _, v in points])
    count = max(len(points) for _, points, _ in series) or 1
    pad = 30
    parts = [
        f'<svg class="sim-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Backlog per day, automated and by hand">'
    ]
    parts.append(f'<line class="sim-axis" x1="{pad}" y1="{height - pad}" x2="{width - 5}" y2="{height - pad}"/>')
    parts.append(f'<line class="sim-axis" x1="{pad}" y1="5" x2="{pad}" y2="{height - pad}"/>')
    parts.append(f'<text class="sim-label" x="2" y="14">{top}</text>')
    parts.append(f'<text class="sim-label" x="2" y="{height - pad}">0</text>')
    parts.append(f'<text class="sim-label" x="{pad}" y="{height - 8}">day 1</text>')
    parts.append(f'<text class="sim-label" x="{width - 60}" y="{height - 8}">day {count}</text>')
    for name, points, css in series:
        coords = []
        for i, (_, value) in enumerate(points):
            x = pad + (width - pad - 10) * (i / max(count - 1, 1))
            y = (height - pad) - (height - pad - 10) * (value / top)
            coords.append(f"{x:.1f},{y:.1f}")
        if coords:
            parts.append(f'<polyline class="{css}" points="{" ".join(coords)}"><title>{name}</title></polyline>')
    parts.append("</svg>")
    return "".join(parts)


def bars_svg(rows: list[tuple[str, float, float]], *, width: int = 560) -> str:
    """Paired horizontal bars (automated, by hand) per figure, each row scaled to its own larger value."""
    row_h = 34
    height = row_h * len(rows) + 10
    label_w = 230
    parts = [f'<svg class="sim-chart" viewBox="0 0 {width} {height}" role="img" aria-label="Figures compared">']
    for i, (label, auto, manual) in enumerate(rows):
        y = 5 + i * row_h
        top = max(auto, manual, 1e-9)
        span = width - label_w - 60
        parts.append(f'<text class="sim-label" x="0" y="{y + 16}">{label}</text>')
        for j, (value, css) in enumerate(((auto, "sim-bar-auto"), (manual, "sim-bar-manual"))):
            w = span * (value / top)
            by = y + j * 13
            parts.append(f'<rect class="{css}" x="{label_w}" y="{by}" width="{w:.1f}" height="11"/>')
            parts.append(f'<text class="sim-label" x="{label_w + w + 4:.1f}" y="{by + 10}">{value:g}</text>')
    parts.append("</svg>")
    return "".join(parts)


BAR_ROWS = (
    ("staff_hours_per_provider_per_week", "Staff h / provider / week"),
    ("touches_per_case", "Touches per case"),
    ("first_pass_approval", "First-pass approval"),
    ("median_days_to_decision", "Median days to decision"),
    ("p90_days_to_decision", "p90 days to decision"),
    ("patient_days_waiting", "Patient days waiting"),
    ("backlog_end", "Backlog at the end"),
)


def charts(auto: dict, manual: dict) -> dict[str, str]:
    rows = [(label, float(auto.get(key) or 0), float(manual.get(key) or 0)) for key, label in BAR_ROWS]
    return {"backlog": backlog_svg(auto, manual), "bars": bars_svg(rows)}
