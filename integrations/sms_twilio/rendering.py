"""Turning a template into the text a patient receives, and the seeded wording.

Rendering is a plain substitution of four names from a dict built here, not a
Django template: a template edited in admin cannot reach `patient.birth_date`
or `order.description` because no object is ever given to it.
"""

from __future__ import annotations

from integrations.sms_twilio.models import ALLOWED_PLACEHOLDERS, PLACEHOLDER_RE, MessageTemplate, TemplateKind

DEFAULT_BODIES = {
    "en": {
        TemplateKind.APPROVED: (
            "Hi {first_name}, good news from {practice_name}: your insurance approved the request "
            "(ref {reference}). You can go ahead, or we will call you to schedule. Questions: {practice_phone}. "
            "Reply STOP to opt out."
        ),
        TemplateKind.INFO_NEEDED: (
            "Hi {first_name}, {practice_name} here. Your insurance asked us for more information on your "
            "request (ref {reference}); we are working on it and will let you know. Questions: {practice_phone}. "
            "Reply STOP to opt out."
        ),
        TemplateKind.DENIED: (
            "Hi {first_name}, {practice_name} has an update on your insurance request (ref {reference}). "
            "Please call us at {practice_phone} so we can talk about next steps. Reply STOP to opt out."
        ),
        TemplateKind.REMINDER: (
            "Hi {first_name}, a reminder from {practice_name} about your request (ref {reference}). "
            "Please call us at {practice_phone}. Reply STOP to opt out."
        ),
    },
    "es": {
        TemplateKind.APPROVED: (
            "Hola {first_name}, buenas noticias de {practice_name}: su seguro aprobó la solicitud "
            "(ref {reference}). Puede continuar, o le llamaremos para programar la cita. Preguntas: "
            "{practice_phone}. Responda STOP para no recibir más mensajes."
        ),
        TemplateKind.INFO_NEEDED: (
            "Hola {first_name}, le escribe {practice_name}. Su seguro nos pidió más información sobre su "
            "solicitud (ref {reference}); estamos trabajando en ello y le avisaremos. Preguntas: "
            "{practice_phone}. Responda STOP para no recibir más mensajes."
        ),
        TemplateKind.DENIED: (
            "Hola {first_name}, {practice_name} tiene novedades sobre su solicitud al seguro (ref {reference}). "
            "Por favor llámenos al {practice_phone} para hablar de los próximos pasos. Responda STOP para no "
            "recibir más mensajes."
        ),
        TemplateKind.REMINDER: (
            "Hola {first_name}, un recordatorio de {practice_name} sobre su solicitud (ref {reference}). "
            "Por favor llámenos al {practice_phone}. Responda STOP para no recibir más mensajes."
        ),
    },
}


def templates_seed_for_practice(*, practice, template_model=MessageTemplate) -> int:
    """Create the default English and Spanish templates a practice lacks. Returns how many."""
    created = 0
    for language, bodies in DEFAULT_BODIES.items():
        for kind, body in bodies.items():
            _, was_created = template_model.objects.get_or_create(
                practice_id=practice.pk, language=language, kind=str(kind), defaults={"body": body}
            )
            created += was_created
    return created


def message_context(*, case) -> dict[str, str]:
    """Everything a message may say. Adding a key here is a privacy decision."""
    practice = case.practice
    return {
        "first_name": case.patient.first_name,
        "practice_name": practice.name,
        "practice_phone": practice.phone or "our office",
        "reference": f"#{case.pk}",
    }


def render_body(body: str, context: dict[str, str]) -> str:
    if not set(context) <= set(ALLOWED_PLACEHOLDERS):
        raise ValueError("message context has names outside the allowed placeholders")
    return PLACEHOLDER_RE.sub(lambda m: context.get(m.group(1), m.group(0)), body).strip()


def template_for(*, practice, kind: str, language: str) -> MessageTemplate | None:
    templates = {t.language: t for t in MessageTemplate.objects.filter(practice=practice, kind=kind)}
    return templates.get(language) or templates.get("en")
