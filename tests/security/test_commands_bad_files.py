"""sandbox_load_bundles and import_payer_rules turn every malformed file into a CommandError (issue 18 item 8)."""

import json

import pytest
from django.core.management import CommandError, call_command

from integrations.ehr_fhir.models import SandboxResource
from payers.models import PayerRule

HEADER = (
    "payer,plan,code_system,code,code_end,requires_pa,category,channel,criteria_reference,effective_from,"
    "effective_to,notes"
)
ROW = "Acme Health,,CPT,70551,,yes,advanced_imaging,portal,ACME-RAD-001,2025-01-01,,MRI brain"
PATIENT = {"resourceType": "Patient", "id": "p1"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ([1, 2], "not a FHIR Bundle"),
        ({"resourceType": "Bundle", "entry": {"a": 1}}, "entry is not a list"),
        ({"resourceType": "Bundle", "entry": ["x"]}, "entry 0 is not an object"),
        ({"resourceType": "Bundle", "entry": [{"resource": {"id": "x"}}]}, "resourceType"),
        ({"resourceType": "Bundle", "entry": [{"resource": {**PATIENT, "id": "x" * 65}}]}, "at most 64"),
        ({"resourceType": "Bundle", "entry": [{"resource": {**PATIENT, "name": "a\u0000b"}}]}, "NUL"),
        (
            {"resourceType": "Bundle", "entry": [{"resource": PATIENT}, {"resource": {"resourceType": 3}}]},
            "entry 1",
        ),
        ('{"resourceType": "Bundle", "x": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested too deeply"),
        (b'{"resourceType": "Bundle", "x": "\xff"}', "utf-8"),
    ],
)
def test_a_malformed_bundle_is_a_command_error_and_loads_nothing(db, settings, tmp_path, content, message):
    settings.SANDBOX_ENABLED = True
    path = tmp_path / "bundle.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(CommandError, match=message):
        call_command("sandbox_load_bundles", str(path))
    assert not SandboxResource.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (f"{HEADER}\n{ROW.replace('MRI', 'M' + chr(0) + 'RI')}\n".encode(), "line 2: contains a NUL byte"),
        (b"\x00" * 50, "NUL byte"),
        (f"{HEADER}\n{ROW.replace('MRI brain', 'x' * 200_000)}\n".encode(), "not readable as CSV|longer than"),
        ("x".encode("utf-16"), "Cannot read"),
    ],
)
def test_a_malformed_rules_file_is_a_command_error_and_imports_nothing(db, tmp_path, content, message):
    path = tmp_path / "rules.csv"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        call_command("import_payer_rules", str(path))
    assert not PayerRule.objects.exists()
