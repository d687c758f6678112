"""django-q2 entry points. Ids only; the work is in services."""

from integrations.sms_twilio import services


def send_message(message_id: int) -> str:
    return services.message_send(message_id=message_id)


def send_due_texts() -> int:
    """Every minute: texts whose quiet hours or backoff ended, and sends interrupted by a crash."""
    ids = services.send_due_messages()
    for message_id in ids:
        services.message_send(message_id=message_id)
    return len(ids)
