"""Real webhook deliveries against the served document's `webhooks` schemas.

Registers an endpoint on a receiver of its own, makes the service send each kind of event it
can be driven to from outside (confirmed, withdrawn for a consent and for a bare number,
declined, canceled, failed) plus a signed example of every type (`POST .../test`), and validates
every body it receives with jsonschema (JSON Schema 2020-12, as OpenAPI 3.1 uses).

    python webhook_schemas.py BASE_URL API_KEY
"""

import http.server
import json
import re
import sys
import threading
import time
import urllib.parse
import urllib.request

from jsonschema import Draft202012Validator

RECEIVED = []


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        RECEIVED.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def call(base, key, method, path, body=None, form=None):
    headers = {"authorization": f"Bearer {key}"} if key else {}
    data = None
    if body is not None:
        data, headers["content-type"] = json.dumps(body).encode(), "application/json"
    if form is not None:
        data, headers["content-type"] = urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
    req = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        text = resp.read().decode()
        return json.loads(text) if resp.headers.get_content_type().endswith("json") else text


def message_for(base, vid):
    for _ in range(100):
        for m in call(base, None, "GET", "/dev/outbox"):
            if m["verification_id"] == vid:
                return m["text"]
        time.sleep(0.1)
    raise AssertionError(f"no message for {vid}")


def start(base, key, phone, method="code"):
    body = {
        "method": method, "channel": "sms", "phone": phone,
        "purpose": {"id": "contract", "text": "Contract check"},
        "consent_text": {"version": "1", "text": "Ja, u mag mij bellen."},
    }
    return call(base, key, "POST", "/v1/verifications", body)["id"]


def main(base, key):
    doc = call(base, None, "GET", "/openapi.json")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    endpoint = call(base, key, "POST", "/v1/webhook-endpoints", {"url": hook})["id"]

    confirmed = start(base, key, "+31611110001")
    code = re.search(r"\b(\d{6})\b", message_for(base, confirmed)).group(1)
    assert call(base, key, "POST", f"/v1/verifications/{confirmed}/check", {"code": code})["status"] == "confirmed"
    call(base, key, "POST", "/v1/withdrawals", {"phone": "+31611110001", "source": "contract", "verification_id": confirmed})
    call(base, key, "POST", "/v1/withdrawals", {"phone": "+31611110002", "source": "contract"})
    canceled = start(base, key, "+31611110003")
    call(base, key, "POST", f"/v1/verifications/{canceled}/cancel", {})
    failed = start(base, key, "+31611110004")
    code = re.search(r"\b(\d{6})\b", message_for(base, failed)).group(1)
    wrong = code[:5] + str((int(code[5]) + 1) % 10)
    for _ in range(5):
        call(base, key, "POST", f"/v1/verifications/{failed}/check", {"code": wrong})
    declined = start(base, key, "+31611110005", method="link")
    optout = re.search(r"(/o/[A-Za-z0-9_-]+)", message_for(base, declined)).group(1)
    page = call(base, None, "GET", optout)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    call(base, None, "POST", optout, form={"csrf": csrf})
    real = 6
    for event_type in doc["webhooks"]:
        sent = call(base, key, "POST", f"/v1/webhook-endpoints/{endpoint}/test", {"event_type": event_type})
        assert sent["delivered"], sent

    expected = real + len(doc["webhooks"])
    for _ in range(200):
        if len(RECEIVED) >= expected:
            break
        time.sleep(0.05)
    assert len(RECEIVED) >= expected, f"{len(RECEIVED)} of {expected} deliveries arrived"

    seen = {}
    for body in RECEIVED:
        event_type = body["type"]
        ref = doc["webhooks"][event_type]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        validator = Draft202012Validator({"$ref": ref, "components": doc["components"]})
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
        assert not errors, f"{event_type} does not match {ref}: {errors[0].message} at {list(errors[0].path)}\n{body}"
        kind = "example" if body.get("test") else "real"
        seen.setdefault(event_type, set()).add(kind)
    missing = [t for t in doc["webhooks"] if t not in seen]
    assert not missing, f"no delivery of {missing}"
    real_types = sorted(t for t, kinds in seen.items() if "real" in kinds)
    assert set(real_types) >= {"consent.confirmed", "consent.withdrawn", "consent.declined",
                               "verification.canceled", "verification.failed"}, real_types
    print(f"webhook schemas: {len(RECEIVED)} deliveries valid; real {', '.join(real_types)}; an example of every type")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
