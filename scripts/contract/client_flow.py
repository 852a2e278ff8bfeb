"""Uses a client that openapi-python-client generated from /openapi.json, without hand edits:
start -> read the code from the dev outbox -> check -> get -> list events -> create and list
webhook endpoints -> the number's proof bundle, whose receipts jwcrypto (an independent JOSE
library) verifies with the bundle's JWKS. Every answer is parsed into the generated models;
statuses are exact.

    python client_flow.py BASE_URL API_KEY   (the generated package `optin_client` on PYTHONPATH)
"""

import hashlib
import json
import re
import sys
import time

from jwcrypto import jwk, jws

from optin_client import AuthenticatedClient, Client
from optin_client.api.consents import get_consent_proof
from optin_client.api.operations import list_dev_outbox
from optin_client.api.verifications import check_verification, get_verification, start_verification
from optin_client.api.webhooks import create_webhook_endpoint, list_events, list_webhook_endpoints
from optin_client.models import (
    CheckRequest, CreateEndpoint, EventList, Problem, ProofBundle, StartRequest, VerificationView,
)
from optin_client.types import UNSET

PHONE = "+31612345678"


def expect(resp, status, model):
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {resp.content!r}"
    assert isinstance(resp.parsed, model), f"expected {model.__name__}, got {type(resp.parsed).__name__}"
    return resp.parsed


def code_from_outbox(public, verification_id):
    for _ in range(100):
        messages = list_dev_outbox.sync(client=public, to=PHONE) or []
        for m in messages:
            if m.verification_id == verification_id:
                found = re.search(r"\b(\d{6})\b", m.text)
                assert found, "no 6-digit code in the message"
                return found.group(1)
        time.sleep(0.1)
    raise AssertionError("the message never reached the dev outbox")


def main(base, key):
    api = AuthenticatedClient(base_url=base, token=key)
    public = Client(base_url=base)

    body = StartRequest.from_dict({
        "method": "code", "channel": "sms", "phone": PHONE,
        "purpose": {"id": "energy-offers", "text": "Telefonische aanbiedingen over energiecontracten"},
        "consent_text": {"version": "2026-03", "text": "Ja, Voorbeeld Energie mag mij bellen."},
    })
    started = expect(start_verification.sync_detailed(client=api, body=body), 201, VerificationView)
    assert started.status.value == "pending" and started.metadata is None, started

    code = code_from_outbox(public, started.id)
    checked = check_verification.sync_detailed(started.id, client=api, body=CheckRequest(code=code))
    assert expect(checked, 200, object).status.value == "confirmed"

    got = expect(get_verification.sync_detailed(started.id, client=api), 200, VerificationView)
    assert got.status.value == "confirmed" and got.evidence is not UNSET, got

    for _ in range(100):
        events = expect(list_events.sync_detailed(client=api, limit=10), 200, EventList)
        if any(e.type_ == "consent.confirmed" for e in events.data):
            break
        time.sleep(0.1)
    else:
        raise AssertionError("consent.confirmed never appeared in GET /v1/events")
    refused = expect(list_events.sync_detailed(client=api, limit=0), 422, Problem)
    assert refused.type_.endswith("/invalid-request"), refused.type_

    created = create_webhook_endpoint.sync_detailed(
        client=api,
        body=CreateEndpoint.from_dict({"url": "https://consent.example.nl/hooks", "event_types": ["consent.confirmed"]}),
    )
    endpoint = expect(created, 201, object)
    assert endpoint.secret.startswith("whsec_")
    listed = list_webhook_endpoints.sync_detailed(client=api)
    assert listed.status_code == 200 and endpoint.id in [e.id for e in listed.parsed], listed.status_code
    check_proof(api, started.id)
    print("generated client: start, check, get, list events, create and list endpoints, proof: ok")


def check_proof(api, verification_id):
    """The proof bundle names the consent, and each receipt verifies under jwcrypto."""
    for _ in range(100):
        bundle = expect(get_consent_proof.sync_detailed(client=api, phone=PHONE), 200, ProofBundle)
        mine = [c for c in bundle.consents if c.verification_id == verification_id]
        if mine and isinstance(mine[0].receipt, str):
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the proof bundle never held the signed consent")
    keys = jwk.JWKSet.from_json(json.dumps(bundle.jwks.to_dict()))
    for c in bundle.consents:
        if not isinstance(c.receipt, str):
            continue
        token = jws.JWS()
        token.deserialize(c.receipt)
        kid = token.jose_header["kid"]
        token.verify(keys.get_key(kid), alg="EdDSA")
        claims = json.loads(token.payload)
        assert claims["jti"] == c.receipt_id, (claims["jti"], c.receipt_id)
        text = next(t for t in c.texts if t.name == "consent_text").text
        assert claims["evidence"]["notice"]["consent_text_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    refused = expect(get_consent_proof.sync_detailed(client=api, phone="12"), 422, Problem)
    assert refused.type_.endswith("/invalid-phone"), refused.type_


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
