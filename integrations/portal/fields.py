"""What a payer's portal form asks for, read from the case: one list, in the order portals ask."""

from __future__ import annotations

from dataclasses import dataclass

from cases.reference import case_reference


@dataclass(frozen=True)
class Field:
    label: str
    value: str
    key: str


def portal_fields(case) -> list[Field]:
    order, patient, practice = case.order, case.patient, case.practice
    coverage = order.coverage if order.coverage_id and order.coverage.payer_id == case.payer_id else None
    provider = order.ordering_provider
    rows = [
        ("Member id", coverage.member_id if coverage else "", "member_id"),
        ("Group number", coverage.group_number if coverage else "", "group"),
        (
            "Plan",
            coverage.plan.name if coverage and coverage.plan_id else (case.plan.name if case.plan_id else ""),
            "plan",
        ),
        ("Patient last name", patient.last_name, "last_name"),
        ("Patient first name", patient.first_name, "first_name"),
        ("Date of birth", f"{patient.birth_date:%m/%d/%Y}", "dob"),
        ("Ordering provider", f"{provider.first_name} {provider.last_name}", "provider"),
        ("Ordering provider NPI", provider.npi, "provider_npi"),
        ("Group NPI", practice.npi, "group_npi"),
        ("Tax id", practice.tax_id, "tax_id"),
        (f"Service code ({order.code_system})", order.code, "code"),
        ("Service description", order.description, "description"),
        ("Quantity", f"{order.quantity.normalize()} {order.units}", "quantity"),
        ("Diagnosis codes (ICD-10-CM)", ", ".join(order.diagnosis_codes or []), "diagnoses"),
        ("Primary diagnosis", (order.diagnosis_codes or [""])[0], "primary_dx"),
        ("Date of service", f"{order.service_date:%m/%d/%Y}", "service_date"),
        ("Place of service", order.site_of_service, "pos"),
        ("Urgency", "Expedited (urgent)" if case.urgency == "expedited" else "Standard", "urgency"),
        ("Contact phone", practice.phone, "phone"),
        ("Contact fax", practice.fax, "fax"),
        ("Our reference", case_reference(case.pk), "reference"),
        ("Clinical summary", case.summary_text if case.summary_is_attested else "", "summary"),
    ]
    return [Field(label, str(value or ""), key) for label, value, key in rows]
