//! One free-text rule for every text field the API takes: CR, LF and the other C0 and C1
//! controls, U+2028/U+2029 and the bidi controls are a 422 naming the field, and nothing is
//! written to Redis.

use serde_json::{Value, json};

use crate::harness::{TestApp, spawn, start_body};

const BASE: &str = "https://optin-verify.eu/problems/";

/// CR LF, a line separator, a right-to-left override, NEL (C1), a bidi isolate, TAB, DEL.
const BAD: [&str; 8] = ["\r\n", "\u{2028}", "\u{202E}", "\u{85}", "\u{2029}", "\u{2067}", "\t", "\u{7f}"];

/// Sends `req` and asserts a 422 `invalid-request` problem naming `field`, with Redis untouched.
async fn refused(app: &TestApp, req: reqwest::RequestBuilder, field: &str, what: &str) {
    let before = app.keys().await;
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 422, "{what}: {body}");
    assert!(ct.starts_with("application/problem+json"), "{what}: content-type {ct}");
    assert_eq!(body["type"], format!("{BASE}invalid-request"), "{what}: {body}");
    assert_eq!(body["status"], 422, "{what}: {body}");
    assert_eq!(body["field"], field, "{what}: {body}");
    app.assert_keys_unchanged(&before, &format!("Redis changed for a refused {what}")).await;
}

/// Sets the value at `path` (object keys) in `body`.
fn set(body: &mut Value, path: &[&str], value: Value) {
    let mut at = body;
    for key in path {
        at = &mut at[*key];
    }
    *at = value;
}

fn start(app: &TestApp, body: &Value) -> reqwest::RequestBuilder {
    app.client.post(app.url("/v1/verifications")).bearer_auth(&app.key).json(body)
}

#[tokio::test]
async fn every_start_field_refuses_controls_separators_and_bidi_characters() {
    let app = spawn().await;
    // (path, a good value to put the bad character in)
    let fields: [(&[&str], &str); 10] = [
        (&["caller"], "Acme Energie B.V."),
        (&["purpose", "id"], "energy-offers"),
        (&["purpose", "text"], "Telefonische aanbiedingen"),
        (&["consent_text", "version"], "2026-03"),
        (&["consent_text", "text"], "Ja, Acme Energie mag mij bellen."),
        (&["privacy_statement", "url"], "https://example.nl/privacy"),
        (&["privacy_statement", "version"], "4.2"),
        (&["collection", "url"], "https://example.nl/offerte"),
        (&["collection", "user_agent"], "Mozilla/5.0 test"),
        (&["metadata", "crm_id"], "123"),
    ];
    for (path, good) in fields {
        let field = path.join(".");
        for bad in BAD {
            for value in [format!("{good}{bad}"), format!("{bad}{good}"), format!("Acme{bad}Bcc: x@example.nl")] {
                let what = format!("{field} = {value:?}");
                let mut body = start_body("code", "sms");
                set(&mut body, path, Value::String(value));
                refused(&app, start(&app, &body), &field, &what).await;
            }
        }
    }
    // The email destination, and metadata at any depth, keys included (named by their object,
    // so that the answer never carries the character).
    for bad in BAD {
        let mut email = start_body("code", "email");
        email["to"] = json!(format!("\"iemand{bad}\"@example.nl"));
        refused(&app, start(&app, &email), "to", &format!("to with {bad:?}")).await;

        let mut nested = start_body("code", "sms");
        nested["metadata"] = json!({"crm_id": "123", "tags": ["ok", format!("x{bad}y")]});
        refused(&app, start(&app, &nested), "metadata.tags[1]", &format!("metadata.tags[1] with {bad:?}")).await;

        let mut inner = start_body("code", "sms");
        inner["metadata"] = json!({"crm": {"id": format!("7{bad}")}});
        refused(&app, start(&app, &inner), "metadata.crm.id", &format!("metadata.crm.id with {bad:?}")).await;

        let mut key = start_body("code", "sms");
        let mut m = serde_json::Map::new();
        m.insert(format!("crm{bad}id"), json!("123"));
        key["metadata"] = Value::Object(m);
        refused(&app, start(&app, &key), "metadata", &format!("a metadata key with {bad:?}")).await;

        let mut inner_key = start_body("code", "sms");
        let mut m = serde_json::Map::new();
        m.insert(format!("x{bad}"), json!(1));
        inner_key["metadata"] = json!({"crm": Value::Object(m)});
        refused(&app, start(&app, &inner_key), "metadata.crm", &format!("a nested metadata key with {bad:?}")).await;
    }
    // What the rule lets through: any script, accents, emoji, a no-break space.
    let mut fine = start_body("code", "sms");
    fine["caller"] = json!("Café Ünïcødé\u{a0}B.V. 👩\u{200d}💻 مرحبا");
    fine["metadata"] = json!({"naam": "Zoë", "tags": ["één", "twee"]});
    app.start(&fine).await;
}

#[tokio::test]
async fn a_batch_reference_refuses_them_and_writes_only_the_batch() {
    let app = spawn().await;
    for bad in BAD {
        let mut item = start_body("code", "sms");
        item["reference"] = json!(format!("crm-1001{bad}"));
        let before = app.keys().await;
        let r = app
            .client
            .post(app.url("/v1/verifications/batch"))
            .bearer_auth(&app.key)
            .json(&json!({"items": [item]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let body: Value = r.json().await.unwrap();
        let answer = &body["items"][0];
        assert_eq!(answer["status"], 422, "{bad:?}: {body}");
        assert_eq!(answer["error"]["type"], format!("{BASE}invalid-request"), "{bad:?}: {body}");
        assert_eq!(answer["error"]["field"], "items[0].reference", "{bad:?}: {body}");
        assert_eq!(answer["reference"], Value::Null, "the refused reference is not echoed: {body}");
        assert_eq!((body["accepted"].as_u64(), body["refused"].as_u64()), (Some(0), Some(1)), "{body}");
        // The batch record (its owner and size) is all that was written: no verification, no
        // counter, no reference.
        let batch_key = app.store_keys().batch(body["id"].as_str().unwrap());
        let after = app.keys().await;
        let appeared: Vec<&String> = after.difference(&before).collect();
        assert_eq!(appeared, vec![&batch_key], "{bad:?}");
    }
}

#[tokio::test]
async fn webhook_endpoint_url_and_description_refuse_them() {
    let app = spawn().await;
    let create = |body: Value| app.client.post(app.url("/v1/webhook-endpoints")).bearer_auth(&app.key).json(&body);
    for bad in BAD {
        // A URL parser drops a CR or LF and keeps the rest: the raw text must be refused.
        for url in [format!("https://consent.example.nl/hooks{bad}"), format!("https://consent.example.nl/{bad}x")] {
            let what = format!("url {url:?}");
            refused(&app, create(json!({"url": url, "description": "store"})), "url", &what).await;
        }
        let description = format!("Consent store{bad}second line");
        let what = format!("description {description:?}");
        let body = json!({"url": "https://consent.example.nl/hooks", "description": description});
        refused(&app, create(body), "description", &what).await;
    }
}

#[tokio::test]
async fn withdrawal_source_and_purpose_refuse_them() {
    let app = spawn().await;
    let withdraw = |body: Value| app.client.post(app.url("/v1/withdrawals")).bearer_auth(&app.key).json(&body);
    for bad in BAD {
        // `source` was trimmed before its letters were checked: "phone_call\r\n" passed.
        for source in [format!("phone_call{bad}"), format!("{bad}phone_call"), format!("phone{bad}call")] {
            let what = format!("source {source:?}");
            let body = json!({"phone": "+31612345678", "source": source});
            refused(&app, withdraw(body), "source", &what).await;
        }
        let purpose = format!("energy-offers{bad}");
        let what = format!("purpose {purpose:?}");
        let body = json!({"phone": "+31612345678", "source": "phone_call", "purpose": purpose});
        refused(&app, withdraw(body), "purpose", &what).await;
    }
}

#[tokio::test]
async fn call_outcome_agent_and_recording_uri_refuse_them() {
    let app = spawn().await;
    // Refused as the body is read, before the verification is looked up.
    let path = app.url("/v1/verifications/vf_0001aaaaaaaaaaaaaaaaaaaaaaaaaaaa/call-outcome");
    let outcome = |agent: &str, uri: &str| {
        json!({
            "outcome": "confirmed", "called_at": "2026-11-27T10:00:00Z", "caller_number": "+31201234567",
            "agent_id": agent,
            "recording": {"uri": uri, "sha256": "ab".repeat(32), "duration_seconds": 95}
        })
    };
    for bad in BAD {
        let agent = format!("agent-7{bad}");
        let req = app.client.post(&path).bearer_auth(&app.key).json(&outcome(agent.as_str(), "s3://r/1.wav"));
        refused(&app, req, "agent_id", &format!("agent_id {agent:?}")).await;
        let uri = format!("s3://recordings/1.wav{bad}");
        let req = app.client.post(&path).bearer_auth(&app.key).json(&outcome("agent-7", uri.as_str()));
        refused(&app, req, "recording.uri", &format!("recording.uri {uri:?}")).await;
    }
}
