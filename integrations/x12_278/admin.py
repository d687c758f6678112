from django import forms
from django.contrib import admin

from integrations.x12_278.models import Clearinghouse, EligibilityCheck, Interchange, PayerRoute


class ClearinghouseForm(forms.ModelForm):
    # Secrets are write-only: left blank, the stored (encrypted) value is kept.
    password = forms.CharField(required=False, widget=forms.PasswordInput, help_text="Leave blank to keep.")
    client_key_pem = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="PEM private key; leave blank to keep."
    )

    class Meta:
        model = Clearinghouse
        fields = [
            "name",
            "endpoint_url",
            "sender_id",
            "sender_qualifier",
            "receiver_id",
            "receiver_qualifier",
            "auth",
            "username",
            "client_certificate_pem",
            "test_mode",
            "active",
        ]

    def save(self, commit=True):
        obj = super().save(commit=False)
        if self.cleaned_data.get("password"):
            obj.set_password(self.cleaned_data["password"])
        if self.cleaned_data.get("client_key_pem"):
            obj.set_client_key(self.cleaned_data["client_key_pem"])
        if commit:
            obj.save()
        return obj


@admin.register(Clearinghouse)
class ClearinghouseAdmin(admin.ModelAdmin):
    form = ClearinghouseForm
    list_display = ["name", "endpoint_url", "sender_id", "receiver_id", "auth", "active"]
    readonly_fields = ["last_interchange_control"]


@admin.register(PayerRoute)
class PayerRouteAdmin(admin.ModelAdmin):
    list_display = ["payer", "clearinghouse", "payer_code", "eligibility"]
    autocomplete_fields = ["payer"]


@admin.register(Interchange)
class InterchangeAdmin(admin.ModelAdmin):
    list_display = ["control_number", "kind", "key", "clearinghouse", "created_at"]
    list_filter = ["kind"]
    search_fields = ["key", "payload_id"]
    # The payload holds the member's name, birth date and id: visible to admins only, never edited.
    readonly_fields = [f.name for f in Interchange._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(EligibilityCheck)
class EligibilityCheckAdmin(admin.ModelAdmin):
    list_display = ["case", "result", "plan_name", "checked_at"]
    list_filter = ["result"]
    raw_id_fields = ["case", "requested_by"]
