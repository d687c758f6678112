"""A clearinghouse on mutual TLS: the key is stored encrypted and exists on disk only for the call."""

import os

import pytest

from integrations.base import IntegrationError
from integrations.x12_278.models import Clearinghouse
from integrations.x12_278.transport import client_cert_file


def test_certificate_and_key_are_written_for_the_call_and_removed():
    ch = Clearinghouse(name="mTLS", auth=Clearinghouse.Auth.CERTIFICATE, client_certificate_pem="-----CERT-----")
    ch.set_client_key("-----KEY-----")
    assert "KEY" not in ch.client_key_encrypted
    with client_cert_file(ch) as path:
        assert oct(os.stat(path).st_mode & 0o777) == "0o600"
        assert open(path).read() == "-----CERT-----\n-----KEY-----\n"
    assert not os.path.exists(path)


def test_a_certificate_clearinghouse_without_a_key_fails_loudly():
    ch = Clearinghouse(name="mTLS", auth=Clearinghouse.Auth.CERTIFICATE, client_certificate_pem="-----CERT-----")
    with pytest.raises(IntegrationError, match="no (client certificate|.*) is stored|none is stored") as err:
        with client_cert_file(ch):
            pass
    assert err.value.permanent
