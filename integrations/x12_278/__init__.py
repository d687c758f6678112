"""X12 278 prior authorization and 270/271 eligibility through a clearinghouse (CAQH CORE real time)."""


def parse_278_response(text: str):
    """The shared `PayerDecision` for a 278 response (see integrations.x12_278.parse)."""
    from integrations.x12_278.parse import parse_278_response as parse

    return parse(text)


__all__ = ["parse_278_response"]
