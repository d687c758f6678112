"""Orders entered by hand: a fax or phone order that did not come from the EHR."""

from django.db import transaction

from cases.detection import case_open_for_order
from cases.models import Coverage, Order, Patient, PriorAuthCase


def order_create_manual(*, practice, actor, data: dict) -> PriorAuthCase:
    """Take in a fax/phone order: patient (new or existing), optional coverage, the order, its case."""
    with transaction.atomic():
        patient = data.get("patient")
        if patient is None:
            patient = Patient.objects.create(
                practice=practice,
                first_name=data["first_name"],
                last_name=data["last_name"],
                birth_date=data["birth_date"],
                mrn=data["mrn"],
            )
        if data.get("payer"):
            Coverage.objects.get_or_create(
                patient=patient,
                payer=data["payer"],
                member_id=data["member_id"],
                defaults={"plan": data.get("plan"), "start": data["requested_date"]},
            )
        order = Order.objects.create(
            practice=practice,
            patient=patient,
            ordering_provider=data["ordering_provider"],
            location=data["ordering_provider"].location,
            kind=data["kind"],
            code_system=data["code_system"],
            code=data["code"].strip().upper(),
            description=data["description"],
            quantity=data["quantity"],
            estimated_cost=data.get("estimated_cost"),
            diagnosis_codes=data["diagnosis_codes"],
            priority=data["priority"],
            requested_date=data["requested_date"],
            source=Order.Source.MANUAL,
        )
        return case_open_for_order(order=order, actor=actor)
