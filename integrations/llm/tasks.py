"""django-q2 entry points of the LLM channel. Ids only in, nothing PHI out."""

from cases.models import CaseEvent, PriorAuthCase
from cases.services import case_event_add
from integrations.base import IntegrationError


def rewrite_summary(case_id: int) -> bool:
    """After the template draft: let the configured LLM rewrite it (integrations/llm/rewrite.py).

    A failure leaves the draft and says so on the timeline.
    """
    from integrations.llm.rewrite import summary_llm_rewrite

    case = PriorAuthCase.objects.get(pk=case_id)
    try:
        summary_llm_rewrite(case=case)
    except IntegrationError as exc:
        case_event_add(case=case, kind=CaseEvent.Kind.SYSTEM, message=f"LLM rewrite skipped: {exc}"[:300])
        return False
    return True
