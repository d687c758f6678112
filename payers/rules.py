"""Does this order need prior authorization? The payer rules match.

`check_order(...)` answers required / not required / unknown for an order on
a date, naming the rule that decided it, the rule's channel and its
documentation requirements. Matching happens on codes as *keys*: CPT ranges
compare numerically (70450–70498), Category II/III codes (0001F, 0042T) only
with codes of the same suffix, HCPCS Level II by letter then number
(J0120–J9999). NDC and RxNorm codes match exactly; a range there is refused.
The keys and the shape of each code system are `payers.codes`.

Specificity, most specific first: plan-specific over payer-wide, exact code
over range, narrower range over wider, then a rule with a site of service or
diagnosis condition over one without. Two matching rules that tie are a
configuration error (`RuleConflict`), shown in admin, never silently resolved.

Whether a matched rule's documentation requirements are met (look-back
windows, durations, matching codes) is decided in payers/requirements.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from payers.codes import CodeError, code_key
from payers.models import CodeSystem, Payer, PayerRule, Plan, RequiresPA, benefit_for


class RuleConflict(Exception):
    """Two or more rules match an order with the same specificity."""

    def __init__(self, rules: list[PayerRule]):
        self.rules = rules
        ids = ", ".join(f"#{r.pk}" for r in rules)
        super().__init__(f"Conflicting payer rules {ids} match with equal specificity; an admin must resolve them.")


def _range_width(rule: PayerRule) -> int:
    # Drug identifiers have string keys and no ranges; a stored rule with a
    # malformed code (saved around `clean`) must not break the conflict scan.
    if not rule.code_end or rule.code_system in (CodeSystem.NDC, CodeSystem.RXNORM):
        return 0
    try:
        return code_key(rule.code_system, rule.code_end)[1] - code_key(rule.code_system, rule.code)[1]
    except CodeError:
        return 0


def rule_covers_code(rule: PayerRule, code: str) -> bool:
    try:
        key = code_key(rule.code_system, code)
        lo = code_key(rule.code_system, rule.code)
    except CodeError:
        return False
    if not rule.code_end:
        return key == lo
    if rule.code_system in (CodeSystem.NDC, CodeSystem.RXNORM):
        return False  # ranges mean nothing for drug identifiers
    try:
        hi = code_key(rule.code_system, rule.code_end)
    except CodeError:
        return False
    return key[0] == lo[0] == hi[0] and lo[1] <= key[1] <= hi[1]


def _site_matches(rule: PayerRule, site: str) -> bool:
    return not rule.site_of_service or rule.site_of_service == (site or "").strip()


def _diagnosis_matches(rule: PayerRule, diagnoses: list[str]) -> bool:
    prefixes = rule.diagnosis_prefix_list
    if not prefixes:
        return True
    codes = [d.strip().upper().replace(".", "") for d in diagnoses]
    return any(code.startswith(p.replace(".", "")) for p in prefixes for code in codes)


def specificity(rule: PayerRule) -> tuple:
    """Bigger is more specific. Width is negated so a narrower range sorts higher."""
    return (
        1 if rule.plan_id else 0,
        1 if not rule.code_end else 0,
        -_range_width(rule),
        1 if rule.site_of_service else 0,
        1 if rule.diagnosis_prefixes.strip() else 0,
    )


@dataclass(frozen=True)
class RuleDecision:
    decision: str  # "required" | "not_required" | "unknown"
    rule: PayerRule | None = None
    channel: str | None = None
    requirements: list[dict] = field(default_factory=list)
    reason: str = ""
    benefit: str = ""  # "medical" | "pharmacy": which benefit the deciding rule is for

    @property
    def rule_id(self) -> int | None:
        return self.rule.pk if self.rule else None

    def as_dict(self) -> dict:
        return {
            "decision": self.decision,
            "rule_id": self.rule_id,
            "channel": self.channel,
            "benefit": self.benefit,
            "requirements": self.requirements,
        }


_DECISION = {RequiresPA.YES: "required", RequiresPA.NO: "not_required", RequiresPA.UNKNOWN: "unknown"}


def matching_rules(
    *, payer: Payer, plan: Plan | None, code_system: str, code: str, on: date, site: str = "", diagnoses=()
) -> list[PayerRule]:
    """Every rule that matches, most specific first."""
    candidates = (
        PayerRule.objects.for_payer_plan(payer, plan)
        .effective_on(on)
        .filter(code_system=code_system)
        .select_related("payer", "plan")
    )
    matched = [
        r
        for r in candidates
        if rule_covers_code(r, code) and _site_matches(r, site) and _diagnosis_matches(r, list(diagnoses))
    ]
    matched.sort(key=specificity, reverse=True)
    return matched


def check_order(
    *,
    payer: Payer,
    plan: Plan | None,
    code_system: str,
    code: str,
    on: date,
    site: str = "",
    diagnoses=(),
) -> RuleDecision:
    """Decide whether PA is required. Raises `RuleConflict` when the top rules tie."""
    matched = matching_rules(
        payer=payer, plan=plan, code_system=code_system, code=code, on=on, site=site, diagnoses=diagnoses
    )
    if not matched:
        return RuleDecision(
            "unknown",
            reason="No payer rule matches this code; a person must check.",
            benefit=benefit_for(code_system),
        )
    top = [r for r in matched if specificity(r) == specificity(matched[0])]
    if len(top) > 1:
        raise RuleConflict(top)
    rule = matched[0]
    requirements = [req.as_dict() for req in rule.requirements.all()]
    return RuleDecision(
        _DECISION[rule.requires_pa],
        rule=rule,
        channel=rule.effective_channel if rule.requires_pa != RequiresPA.NO else None,
        requirements=requirements,
        reason=f"Matched rule #{rule.pk} ({rule}).",
        benefit=rule.effective_benefit,
    )


def _dates_overlap(a: PayerRule, b: PayerRule) -> bool:
    a_end = a.effective_to or date.max
    b_end = b.effective_to or date.max
    return a.effective_from <= b_end and b.effective_from <= a_end


def _conditions_can_coexist(a: PayerRule, b: PayerRule) -> bool:
    if a.site_of_service and b.site_of_service and a.site_of_service != b.site_of_service:
        return False
    # Compared without dots, as `_diagnosis_matches` does: M51.1 and M511 are one prefix.
    pa = [p.replace(".", "") for p in a.diagnosis_prefix_list]
    pb = [p.replace(".", "") for p in b.diagnosis_prefix_list]
    if pa and pb and not any(x.startswith(y) or y.startswith(x) for x in pa for y in pb):
        return False
    return True


def find_conflicts(rules) -> list[tuple[PayerRule, PayerRule]]:
    """Pairs of rules that could both match one order with equal specificity.

    Only rules with the same plan scope can tie (a plan-specific rule always
    beats a payer-wide one), and only rules of equal specificity, so rules are
    grouped by both; within a group a sweep over ranges sorted by their start
    compares only overlapping neighbours (the admin runs this on every rule).
    """
    groups: dict[tuple, list[tuple[tuple, tuple, PayerRule]]] = {}
    for rule in rules:
        try:
            lo = code_key(rule.code_system, rule.code)
            hi = code_key(rule.code_system, rule.code_end or rule.code)
        except CodeError:
            continue  # a malformed stored code matches no order, so it cannot tie
        if lo[0] != hi[0] or (rule.code_end and rule.code_system in (CodeSystem.NDC, CodeSystem.RXNORM)):
            continue  # likewise never matches (see rule_covers_code)
        scope = (rule.payer_id, rule.plan_id, rule.code_system, specificity(rule), lo[0])
        groups.setdefault(scope, []).append((lo, hi, rule))
    conflicts = []
    for group in groups.values():
        group.sort(key=lambda item: (item[0], item[2].pk or 0))
        for i, (_, a_hi, a) in enumerate(group):
            for b_lo, _, b in group[i + 1 :]:
                if b_lo > a_hi:
                    break
                if _dates_overlap(a, b) and _conditions_can_coexist(a, b):
                    conflicts.append((a, b))
    return conflicts
