"""Admin for the people who configure payers: payers and plans, the rules
library with inline documentation requirements, the conflicting-rules warning
and a "test an order" page running the same `check_order` as the app."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from payers.codes import CodeError, code_key
from payers.models import CodeSystem, DocumentationRequirement, Payer, PayerRule, Plan
from payers.rules import RuleConflict, check_order, find_conflicts


class PlanInline(admin.TabularInline):
    model = Plan
    extra = 0
    fields = ("name", "line_of_business")


@admin.register(Payer)
class PayerAdmin(admin.ModelAdmin):
    list_display = ("name", "payer_id", "cms_impacted", "default_channel", "plan_count", "rule_count", "active")
    list_filter = ("cms_impacted", "default_channel", "active")
    search_fields = ("name", "payer_id", "naic_code")
    inlines = [PlanInline]
    fieldsets = (
        (None, {"fields": ("name", "payer_id", "naic_code", "phone", "fax", "active")}),
        (
            "Submission",
            {"fields": ("default_channel", "fhir_base_url", "portal_url", "portal_instructions", "cms_impacted")},
        ),
        (
            "Clocks",
            {
                "fields": (
                    "standard_turnaround_hours",
                    "expedited_turnaround_hours",
                    "poll_interval_hours",
                    "follow_up_hours",
                    "stall_threshold_hours",
                    "appeal_window_days",
                )
            },
        ),
    )

    def get_queryset(self, request):
        # Two counts in the one list query; distinct because the joins multiply.
        return (
            super()
            .get_queryset(request)
            .annotate(
                _plan_count=Count("plans", distinct=True),
                _rule_count=Count("rules", distinct=True),
            )
        )

    @admin.display(description="plans", ordering="_plan_count")
    def plan_count(self, obj):
        return obj._plan_count

    @admin.display(description="rules", ordering="_rule_count")
    def rule_count(self, obj):
        url = reverse("admin:payers_payerrule_changelist") + f"?payer__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj._rule_count)


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("name", "payer", "line_of_business")
    list_filter = ("line_of_business", "payer")
    search_fields = ("name", "payer__name")
    list_select_related = ("payer",)
    autocomplete_fields = ("payer",)


class RequirementInline(admin.StackedInline):
    model = DocumentationRequirement
    extra = 0
    fields = (
        ("kind", "who_closes", "position"),
        "description",
        ("loinc_code", "rxnorm_code", "drug_class", "procedure_code", "diagnosis_prefix"),
        ("lookback_days", "min_duration_days"),
    )


class EffectiveFilter(admin.SimpleListFilter):
    title = "effective"
    parameter_name = "effective"

    def lookups(self, request, model_admin):
        return [("current", "In effect today"), ("future", "Starts later"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "current":
            return queryset.effective_on(today)
        if self.value() == "future":
            return queryset.filter(effective_from__gt=today)
        if self.value() == "expired":
            return queryset.filter(effective_to__lt=today)
        return queryset


class PlanFilter(admin.SimpleListFilter):
    # The stock related filter would run one query per plan for its label (payer name).
    title = "plan"
    parameter_name = "plan"

    def lookups(self, request, model_admin):
        return [("none", "All plans (payer-wide)")] + [
            (str(plan.pk), str(plan)) for plan in Plan.objects.select_related("payer")
        ]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(plan__isnull=True)
        if self.value() and self.value().isdigit():
            return queryset.filter(plan_id=int(self.value()))
        return queryset


class ConflictFilter(admin.SimpleListFilter):
    title = "conflicts"
    parameter_name = "conflict"

    def lookups(self, request, model_admin):
        return [("yes", "Conflicting rules only")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            ids = {r.pk for pair in _all_conflicts() for r in pair}
            return queryset.filter(pk__in=ids)
        return queryset


def _all_conflicts():
    return find_conflicts(PayerRule.objects.select_related("payer", "plan"))


def _rule_link(rule: PayerRule) -> str:
    return format_html('<a href="{}">#{}</a>', reverse("admin:payers_payerrule_change", args=[rule.pk]), rule.pk)


@admin.register(PayerRule)
class PayerRuleAdmin(admin.ModelAdmin):
    change_list_template = "admin/payers/payerrule/change_list.html"
    # What an admin scans for first: the code, whether it needs PA, and how it is sent; then whose rule
    # it is and its conditions. Dates and conditions are one column each so the list fits its box.
    list_display = (
        "codes",
        "requires_pa",
        "channel_display",
        "payer",
        "plan_short",
        "category",
        "conditions",
        "effective",
    )
    list_display_links = ("codes",)
    list_filter = (
        "payer",
        PlanFilter,
        "channel",
        "requires_pa",
        "category",
        "code_system",
        EffectiveFilter,
        ConflictFilter,
    )
    search_fields = ("code", "code_end", "payer__name", "criteria_reference")
    list_select_related = ("payer", "plan__payer")  # a plan's label names its payer
    autocomplete_fields = ("payer", "plan")
    inlines = [RequirementInline]
    save_on_top = True
    fieldsets = (
        (None, {"fields": ("payer", "plan", "requires_pa", "category", "channel")}),
        ("Codes", {"fields": ("code_system", "code", "code_end")}),
        ("Conditions (optional)", {"fields": ("site_of_service", "diagnosis_prefixes")}),
        ("Effective", {"fields": ("effective_from", "effective_to")}),
        (None, {"fields": ("criteria_reference", "notes")}),
    )

    @admin.display(description="code(s)", ordering="code")
    def codes(self, obj):
        return f"{obj.code}–{obj.code_end}" if obj.code_end else obj.code

    @admin.display(description="plan", ordering="plan__name")
    def plan_short(self, obj):
        return obj.plan.name if obj.plan else "every plan"

    @admin.display(description="conditions")
    def conditions(self, obj):
        parts = []
        if obj.site_of_service:
            parts.append(f"site {obj.site_of_service}")
        if obj.diagnosis_prefixes:
            parts.append(f"dx {obj.diagnosis_prefixes}")
        return "; ".join(parts) or "—"

    @admin.display(description="effective", ordering="effective_from")
    def effective(self, obj):
        return (
            f"{obj.effective_from:%m/%d/%Y} – {obj.effective_to:%m/%d/%Y}"
            if obj.effective_to
            else (f"from {obj.effective_from:%m/%d/%Y}")
        )

    @admin.display(description="channel", ordering="channel")
    def channel_display(self, obj):
        if obj.channel:
            return obj.get_channel_display()
        return f"payer default ({obj.payer.get_default_channel_display()})"

    def get_urls(self):
        return [
            path(
                "test-order/",
                self.admin_site.admin_view(self.test_order_view),
                name="payers_payerrule_test_order",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            conflicts = _all_conflicts()
            if conflicts:
                shown = format_html_join(", ", "{} and {}", ((_rule_link(a), _rule_link(b)) for a, b in conflicts[:10]))
                more = f" and {len(conflicts) - 10} more" if len(conflicts) > 10 else ""
                messages.warning(
                    request,
                    format_html(
                        "Conflicting rules: {} pair(s) match the same orders with equal specificity "
                        "(an order they cover gets no decision until resolved): {}{}. "
                        '<a href="?conflict=yes">Show them</a>.',
                        len(conflicts),
                        shown,
                        more,
                    ),
                )
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            rule = self.get_object(request, object_id)
            if rule is not None:
                others = [
                    b if a.pk == rule.pk else a
                    for a, b in find_conflicts(
                        PayerRule.objects.filter(payer_id=rule.payer_id, code_system=rule.code_system)
                    )
                    if rule.pk in (a.pk, b.pk)
                ]
                if others:
                    messages.warning(
                        request,
                        format_html(
                            "This rule conflicts with {}: both match the same orders with equal specificity. "
                            "Narrow one (plan, range, dates, site or diagnoses) or end-date it.",
                            format_html_join(", ", "{}", ((_rule_link(o),) for o in others)),
                        ),
                    )
        return super().change_view(request, object_id, form_url, extra_context)

    def test_order_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = TestOrderForm(request.POST or None)
        decision = error = None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                decision = check_order(
                    payer=data["payer"],
                    plan=data["plan"],
                    code_system=data["code_system"],
                    code=data["code"],
                    on=data["date"],
                    site=data["site"],
                    diagnoses=data["diagnoses"],
                )
            except RuleConflict as exc:
                error = exc
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Test an order",
            "form": form,
            "decision": decision,
            "conflict": error,
        }
        return TemplateResponse(request, "admin/payers/payerrule/test_order.html", context)


class TestOrderForm(forms.Form):
    payer = forms.ModelChoiceField(queryset=Payer.objects.all())
    plan = forms.ModelChoiceField(
        queryset=Plan.objects.select_related("payer"),
        required=False,
        help_text="Empty: payer-wide rules only. A plan without rules of its own uses the payer-wide rules.",
    )
    code_system = forms.ChoiceField(choices=CodeSystem.choices, initial=CodeSystem.CPT)
    code = forms.CharField(max_length=20)
    site = forms.CharField(label="Site of service", max_length=4, required=False, help_text="e.g. 11, 22")
    diagnoses = forms.CharField(
        label="Diagnoses", required=False, help_text="ICD-10-CM codes, comma-separated (e.g. M54.16, M51.16)"
    )
    date = forms.DateField(initial=timezone.localdate, help_text="Service date, YYYY-MM-DD.")

    def clean_diagnoses(self):
        return [d.strip() for d in self.cleaned_data["diagnoses"].split(",") if d.strip()]

    def clean(self):
        data = super().clean()
        payer, plan = data.get("payer"), data.get("plan")
        if payer and plan and plan.payer_id != payer.pk:
            self.add_error("plan", "This plan belongs to another payer.")
        if data.get("code_system") and data.get("code"):
            try:
                code_key(data["code_system"], data["code"])
            except CodeError as exc:
                self.add_error("code", str(exc))
        return data


@admin.register(DocumentationRequirement)
class DocumentationRequirementAdmin(admin.ModelAdmin):
    list_display = ("description", "kind", "rule", "who_closes", "lookback_days", "min_duration_days")
    list_filter = ("kind", "who_closes", "rule__payer")
    search_fields = ("description", "loinc_code", "rxnorm_code", "drug_class", "rule__code", "rule__payer__name")
    list_select_related = ("rule__payer", "rule__plan")
    raw_id_fields = ("rule",)
