//! The receipt id is the signed receipt's `jti`: every consent store and every caller of
//! `GET /v1/consents` holds it. With it alone one sees the receipt and how to check it, and can
//! change nothing. Withdrawing from the receipt page takes the opt-out token of the person's own
//! message, which no consent store and no API answer holds.

use std::time::Duration;

use serde_json::Value;

use crate::{
    harness::{TestApp, csrf_in, link_in, spawn, start_body},
    receiver::Receiver,
};

const WAIT: Duration = Duration::from_secs(10);

async fn get(app: &TestApp, path: &str) -> (u16, String) {
    let r = app.client.get(app.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The action of the page's first form, if it has one.
fn form_action(page: &str) -> Option<String> {
    let rest = page.split(r#"<form method="post" action=""#).nth(1)?;
    Some(rest.split('"').next()?.to_string())
}

/// What a withdrawal would have changed: the record's status and withdrawal, its events, and
/// the number's consent state.
async fn consent_state(app: &TestApp, id: &str) -> (String, bool, Vec<String>, Value) {
    let stored = app.stored(id).await;
    let (status, consents) = app.get_json("/v1/consents?phone=%2B31612345678").await;
    assert_eq!(status, 200, "{consents}");
    (stored["st"].clone(), stored.contains_key("wd"), app.events_for(id).await, consents["consented"].clone())
}

#[tokio::test]
async fn a_receipt_id_alone_shows_the_receipt_and_cannot_withdraw() {
    let app = spawn().await;
    let rx = Receiver::start().await;
    let (_, secret) = app.endpoint(&rx.url("/store")).await;
    rx.trust("/store", &secret);
    let id = app.start(&start_body("link", "sms")).await["id"].as_str().unwrap().to_string();
    let text = app.outbox_message(&id).await["text"].as_str().unwrap().to_string();
    let (link, optout) = (link_in(&text, "c"), link_in(&text, "o"));
    let token = optout["/o/".len()..].to_string();
    let (_, page) = get(&app, &link).await;
    let r =
        app.client.post(app.url(&format!("{link}/confirm"))).form(&[("csrf", csrf_in(&page))]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let after_confirming = r.headers()["location"].to_str().unwrap().to_string();

    // What a consent store holds: the signed webhook, with the receipt id. It carries no
    // opt-out token, and neither does the API.
    let got = rx.wait_for("/store", "consent.confirmed", Some(&id), WAIT).await;
    assert_eq!(got.verified, Some(true));
    let rid = got.body["data"]["receipt_id"].as_str().unwrap().to_string();
    assert!(!String::from_utf8_lossy(&got.raw).contains(&token), "the webhook carries the opt-out token");
    let (_, view) = app.get_json(&format!("/v1/verifications/{id}")).await;
    assert_eq!(view["receipt_id"], rid.as_str());
    assert!(!view.to_string().contains(&token), "the API returns the opt-out token");
    let (_, consents) = app.get_json("/v1/consents?phone=%2B31612345678").await;
    assert_eq!(consents["consents"][0]["receipt_id"], rid.as_str());
    assert!(!consents.to_string().contains(&token));
    let before = consent_state(&app, &id).await;
    assert_eq!(before, ("confirmed".to_string(), false, vec!["consent.confirmed".to_string()], Value::Bool(true)));

    // The receipt id alone: the receipt and how to check it; no form, no CSRF value, no token.
    for lang in ["", "?lang=en"] {
        let (status, page) = get(&app, &format!("/r/{rid}{lang}")).await;
        assert_eq!(status, 200, "/r/{rid}{lang}");
        assert!(page.contains(&rid) && page.contains("/.well-known/jwks.json"), "{page}");
        assert!(form_action(&page).is_none() && !page.contains("name=\"csrf\""), "a form: {page}");
        assert!(!page.contains(&token) && !page.contains("/o/"), "the receipt id led to the opt-out token: {page}");
    }
    let (_, page) = get(&app, &format!("/r/{rid}?lang=en")).await;
    assert!(page.contains("use the opt-out link in the message you received"), "{page}");
    // A made-up token, or another verification's, opens no form either.
    let other = app.start(&start_body("link", "sms")).await["id"].as_str().unwrap().to_string();
    let others = link_in(app.outbox_message(&other).await["text"].as_str().unwrap(), "o");
    let altered = format!("{}{}", &token[..42], if token.ends_with('A') { 'B' } else { 'A' });
    for t in ["A".repeat(43), others["/o/".len()..].to_string(), altered] {
        let (status, page) = get(&app, &format!("/r/{rid}?t={t}")).await;
        assert_eq!(status, 200);
        assert!(form_action(&page).is_none() && !page.contains(&token), "?t={t} opened the form");
    }
    // Posting to the receipt changes nothing, with or without a form value.
    for path in [format!("/r/{rid}"), format!("/r/{rid}?lang=en"), format!("/r/{rid}/withdraw")] {
        let csrf = ("csrf", "0123456789abcdef0123456789abcdef");
        let forms = [vec![], vec![csrf], vec![("List-Unsubscribe", "One-Click")]];
        for form in forms {
            let r = app.client.post(app.url(&path)).form(&form).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 404, "POST {path}");
        }
    }
    assert_eq!(consent_state(&app, &id).await, before, "the receipt id alone changed the consent");

    // The person: led to the receipt with their own opt-out token, they can withdraw there.
    assert!(after_confirming.starts_with(&format!("/r/{rid}?t={token}")), "{after_confirming}");
    let (status, page) = get(&app, &after_confirming).await;
    assert_eq!(status, 200);
    assert_eq!(form_action(&page).as_deref(), Some(optout.as_str()), "the form posts to the message's opt-out link");
    let r = app.client.post(app.url(&optout)).form(&[("csrf", csrf_in(&page))]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (st, withdrawn, events, consented) = consent_state(&app, &id).await;
    assert_eq!((st.as_str(), withdrawn, consented), ("confirmed", true, Value::Bool(false)));
    assert_eq!(events, vec!["consent.confirmed", "consent.withdrawn"]);
    let (_, page) = get(&app, &format!("/r/{rid}")).await;
    assert!(page.contains("Uw toestemming is ingetrokken") && form_action(&page).is_none());
}
