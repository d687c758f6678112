"""The access log in admin: read only, for every user and superuser alike."""

from django.contrib import admin

from cases.audit.models import AccessLog
from priorauth.admin import ReadOnlyAdmin


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyAdmin):
    list_display = ("at", "username", "action", "what", "patient_ids", "case_ids", "ip")
    list_filter = ("action",)
    search_fields = ("username",)
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AccessLog._meta.fields]


class AccessLoggedAdminMixin:
    """Admin list and change pages of patient data each leave one access-log row.

    `audit_patient` / `audit_case` name the attribute holding the patient's and
    the case's id on a row ("pk", "patient_id", "case_id", "case.patient_id" with
    the case selected in the list). The list's rows are read here instead of by
    the template (the queryset keeps them), so logging adds only its INSERT.
    """

    audit_patient = ""
    audit_case = ""

    def _audit_ids(self, objects) -> tuple[list, list]:
        def pick(obj, path):
            for name in path.split(".") if path else []:
                obj = getattr(obj, name, None)
            return obj if path else None

        return [pick(o, self.audit_patient) for o in objects], [pick(o, self.audit_case) for o in objects]

    def _audit(self, request, what, objects, **detail):
        from cases.audit.services import access_log_record

        patients, cases = self._audit_ids(objects)
        access_log_record(
            request=request,
            action=AccessLog.Action.VIEW,
            what=f"admin {what}: {self.model._meta.verbose_name_plural}",
            patient_ids=patients,
            case_ids=cases,
            **detail,
        )

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            rows = list(changelist.result_list)
            self._audit(request, "list", rows, rows=len(rows))
        return response

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        response = super().changeform_view(request, object_id, form_url, extra_context)
        original = getattr(response, "context_data", {}).get("original")
        if original is not None and request.method == "GET":
            self._audit(request, "page", [original], object_id=original.pk)
        return response
