"""Admin for the practice side: people, patients, orders and cases.

Case status is read-only here: it moves only through
`cases.transitions.transition` (timeline event, row lock, side effects). The
timeline (CaseEvent) is append-only, so it can be read but not added or
removed. Patient lists show name and MRN only (minimum necessary).
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from cases.audit.admin import AccessLoggedAdminMixin
from cases.models import (
    CaseEvent,
    Coverage,
    Document,
    Location,
    Order,
    Patient,
    Practice,
    PriorAuthCase,
    Provider,
    RequirementStatus,
    Task,
    User,
)
from cases.services import case_event_add
from payers.models import Plan
from priorauth.admin import ReadOnlyAdmin, ReadOnlyMixin
from priorauth.security import lockout_clear, mfa_reset


class LocationInline(admin.TabularInline):
    model = Location
    extra = 0


@admin.register(Practice)
class PracticeAdmin(admin.ModelAdmin):
    list_display = ("name", "time_zone", "sweep_time", "submission_requires_approval", "approval_scope", "npi")
    search_fields = ("name", "npi")
    inlines = [LocationInline]


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("name", "practice", "place_of_service")
    list_filter = ("practice",)
    search_fields = ("name",)
    list_select_related = ("practice",)


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ("__str__", "npi", "specialty", "practice", "location")
    list_filter = ("practice", "specialty")
    search_fields = ("last_name", "first_name", "npi")
    list_select_related = ("practice", "location")
    filter_horizontal = ("delegates",)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "first_name", "last_name", "practice", "roles", "is_staff", "is_active")
    list_filter = ("groups", "practice", "is_staff", "is_superuser", "is_active")
    list_select_related = ("practice",)
    raw_id_fields = ("provider",)
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Practice", {"fields": ("practice", "provider")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        ("Practice and roles", {"fields": ("practice", "provider", "groups")}),
    )

    actions = ["reset_second_factors", "unlock_sign_in"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.action(description="Reset second factors (the user enrols again at next sign-in)", permissions=["change"])
    def reset_second_factors(self, request, queryset):
        removed = sum(mfa_reset(user=user, actor=request.user) for user in queryset)
        self.message_user(request, f"Removed {removed} factor(s) of {len(queryset)} user(s); each reset is audited.")

    @admin.action(description="Unlock sign-in (clear failed attempts)", permissions=["change"])
    def unlock_sign_in(self, request, queryset):
        for user in queryset:
            lockout_clear(user=user, actor=request.user)
        self.message_user(request, f"Unlocked {len(queryset)} user(s); each unlock is audited.")

    @admin.display(description="roles")
    def roles(self, obj):
        # Reads the prefetched groups: one query for the page, not one per row.
        return ", ".join(sorted(g.name for g in obj.groups.all()))


class PlanChoicesMixin:
    """Plan's label names its payer: load them together, not one query per option."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "plan":
            kwargs["queryset"] = Plan.objects.select_related("payer")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class CoverageInline(PlanChoicesMixin, admin.TabularInline):
    model = Coverage
    extra = 0
    fields = ("payer", "plan", "member_id", "group_number", "start", "end")


@admin.register(Patient)
class PatientAdmin(AccessLoggedAdminMixin, admin.ModelAdmin):
    audit_patient = "pk"
    # Name and MRN only in lists: no birth date or phone on a page of many patients.
    list_display = ("mrn", "last_name", "first_name", "practice")
    list_filter = ("practice",)
    search_fields = ("mrn", "last_name", "first_name")
    list_select_related = ("practice",)
    inlines = [CoverageInline]


@admin.register(Coverage)
class CoverageAdmin(AccessLoggedAdminMixin, PlanChoicesMixin, admin.ModelAdmin):
    audit_patient = "patient_id"
    list_display = ("patient", "payer", "plan", "start", "end")
    list_filter = ("payer",)
    search_fields = ("patient__mrn", "patient__last_name", "member_id")
    list_select_related = ("patient", "payer", "plan__payer")
    raw_id_fields = ("patient",)


@admin.register(Order)
class OrderAdmin(AccessLoggedAdminMixin, admin.ModelAdmin):
    audit_patient = "patient_id"
    list_display = (
        "id",
        "code_system",
        "code",
        "description",
        "patient",
        "ordering_provider",
        "priority",
        "created_at",
    )
    list_filter = ("practice", "priority", "kind", "code_system", "source")
    search_fields = ("code", "description", "patient__mrn", "ehr_id")
    list_select_related = ("patient", "ordering_provider")
    raw_id_fields = ("patient", "coverage", "ordering_provider", "location")
    date_hierarchy = "created_at"


class CaseEventInline(ReadOnlyMixin, admin.TabularInline):
    """The timeline, newest first; append-only."""

    model = CaseEvent
    extra = 0
    fields = ("created_at", "kind", "actor", "from_status", "to_status", "message")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class TaskInline(admin.TabularInline):
    model = Task
    extra = 0
    fields = ("kind", "title", "assignee", "role", "due_at", "done_at")
    raw_id_fields = ("assignee",)


class DocumentInline(admin.TabularInline):
    model = Document
    extra = 0
    fields = ("kind", "title", "source", "file", "ehr_reference", "created_at")
    readonly_fields = ("created_at",)


class RequirementStatusInline(admin.TabularInline):
    model = RequirementStatus
    extra = 0
    fields = ("requirement", "state", "note")
    raw_id_fields = ("requirement",)


@admin.register(PriorAuthCase)
class PriorAuthCaseAdmin(AccessLoggedAdminMixin, admin.ModelAdmin):
    audit_patient = "patient_id"
    audit_case = "pk"
    list_display = (
        "id",
        "patient",
        "order_code",
        "payer",
        "status",
        "urgency",
        "channel",
        "assignee",
        "decision_due_at",
        "created_at",
    )
    list_filter = ("status", "urgency", "practice", "payer", "channel")
    search_fields = ("=id", "patient__mrn", "patient__last_name", "authorization_number", "payer_tracking_id")
    list_select_related = ("patient", "order", "payer", "assignee")
    raw_id_fields = (
        "order",
        "patient",
        "plan",
        "rule",
        "assignee",
        "submission_approved_by",
        "summary_attested_by",
    )
    # Status moves only through transitions (CaseEvent, row lock, side effects).
    readonly_fields = ("status", "status_changed_at", "created_at", "summary_attested_text")
    inlines = [CaseEventInline, TaskInline, DocumentInline, RequirementStatusInline]
    date_hierarchy = "created_at"

    @admin.display(description="order", ordering="order__code")
    def order_code(self, obj):
        return f"{obj.order.code_system} {obj.order.code}"

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            case_event_add(case=obj, kind=CaseEvent.Kind.SYSTEM, actor=request.user, message="Created in admin.")
            return
        # Write only the edited fields: a full save would write back the status
        # read when the form was opened, undoing a transition made meanwhile.
        changed = [name for name in form.changed_data if name in {f.name for f in obj._meta.concrete_fields}]
        if changed:
            obj.save(update_fields=changed)
            case_event_add(
                case=obj,
                kind=CaseEvent.Kind.SYSTEM,
                actor=request.user,
                message=f"Edited in admin: {', '.join(changed)}.",
                fields=changed,
            )


@admin.register(Task)
class TaskAdmin(AccessLoggedAdminMixin, admin.ModelAdmin):
    audit_patient = "case.patient_id"
    audit_case = "case_id"
    list_display = ("title", "kind", "case", "assignee", "role", "due_at", "done_at")
    list_filter = ("kind", "role", ("done_at", admin.EmptyFieldListFilter))
    search_fields = ("title", "=case__id")
    list_select_related = ("case", "assignee")
    raw_id_fields = ("case", "assignee", "done_by")


@admin.register(Document)
class DocumentAdmin(AccessLoggedAdminMixin, admin.ModelAdmin):
    audit_patient = "case.patient_id"
    audit_case = "case_id"
    list_display = ("title", "kind", "source", "case", "created_at")
    list_filter = ("kind", "source")
    search_fields = ("title", "=case__id", "ehr_reference")
    list_select_related = ("case",)
    raw_id_fields = ("case", "requirement", "uploaded_by")


@admin.register(RequirementStatus)
class RequirementStatusAdmin(AccessLoggedAdminMixin, admin.ModelAdmin):
    audit_patient = "case.patient_id"
    audit_case = "case_id"
    list_display = ("case", "requirement", "state", "updated_at")
    list_filter = ("state",)
    search_fields = ("=case__id", "requirement__description")
    list_select_related = ("case", "requirement")
    raw_id_fields = ("case", "requirement", "resolved_by")


@admin.register(CaseEvent)
class CaseEventAdmin(AccessLoggedAdminMixin, ReadOnlyAdmin):
    """Read-only: the timeline is append-only."""

    audit_patient = "case.patient_id"
    audit_case = "case_id"
    list_display = ("created_at", "case", "kind", "from_status", "to_status", "actor", "message")
    list_filter = ("kind", "to_status")
    search_fields = ("=case__id", "message")
    list_select_related = ("case", "actor")
    date_hierarchy = "created_at"


from cases.sweep import admin as sweep_admin  # noqa: E402,F401  (registers the sweep's admin)
