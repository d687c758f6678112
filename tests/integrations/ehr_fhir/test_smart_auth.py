import pytest
from django.core.cache import cache

from integrations.ehr_fhir.intake import sync_practice
from integrations.ehr_fhir.models import EhrConnection, SyncRun


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_smart_assertion_has_the_right_claims_and_a_fresh_jti_per_token(practice, ehr, alg):
    # given a SMART Backend Services connection whose key the EHR's token endpoint knows
    client_id, key = ehr.keys[alg]
    connection = EhrConnection.objects.create(
        practice=practice,
        base_url=ehr.base,
        auth=EhrConnection.Auth.SMART_BACKEND,
        client_id=client_id,
        private_key_pem=key,
        key_id="k1",
        token_url=ehr.token_url,
        algorithm=alg,
        scopes="system/*.rs",
    )
    seen = len(ehr.assertions())
    # when intake runs twice with the token cached, then again after the cache is gone
    first = sync_practice(practice=practice)
    sync_practice(practice=practice)
    cache.clear()
    sync_practice(practice=practice)
    # then the EHR accepted exactly two assertions (it rejects wrong claims, bad signatures and replayed jti)
    assert first.run_state == SyncRun.RunState.SUCCEEDED, first.error
    accepted = ehr.assertions()[seen:]
    assert len(accepted) == 2
    for a in accepted:
        claims = a["claims"]
        assert a["header"]["alg"] == alg and a["header"]["kid"] == "k1"
        assert claims["iss"] == claims["sub"] == client_id
        assert claims["aud"] == connection.token_url
        assert 0 < claims["exp"] - claims["iat"] <= 300
        assert a["scope"] == "system/*.rs"
    assert accepted[0]["claims"]["jti"] != accepted[1]["claims"]["jti"]
    # and every FHIR request carried a live bearer token
    assert all(r["authorized"] for r in ehr.requests_log())


def test_wrong_key_is_refused_with_a_clear_error(practice, ehr):
    # given a connection signing with a key the EHR does not know for that client
    EhrConnection.objects.create(
        practice=practice,
        base_url=ehr.base,
        auth=EhrConnection.Auth.SMART_BACKEND,
        client_id="rs-client",
        private_key_pem=ehr.keys["ES384"][1],
        token_url=ehr.token_url,
        algorithm="ES384",
    )
    # when intake runs
    run = sync_practice(practice=practice)
    # then the run fails naming the token refusal
    assert run.run_state == SyncRun.RunState.FAILED
    assert "refused the token request" in run.error
