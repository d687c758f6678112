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
