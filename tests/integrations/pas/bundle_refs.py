"""Reading FHIR references out of a bundle, for the bundle-shape tests."""


def bundle_references(node, found: list[str] | None = None) -> list[str]:
    """Every `reference` string anywhere under `node`."""
    found = [] if found is None else found
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                found.append(value)
            else:
                bundle_references(value, found)
    elif isinstance(node, list):
        for value in node:
            bundle_references(value, found)
    return found


def supporting_text(bundle: dict, info: dict) -> str:
    """The text of a supportingInfo entry: a message's valueString, or the text/plain
    DocumentReference the summary is sent as (PAS additionalInformation takes a reference)."""
    import base64

    if "valueString" in info:
        return info["valueString"]
    ref = info["valueReference"]["reference"]
    doc = next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == ref)
    return base64.b64decode(doc["content"][0]["attachment"]["data"]).decode()
