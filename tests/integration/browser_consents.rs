//! The consents page in a real headless Chromium: a person with only their phone signs in with
//! a code, sees their consents, withdraws one and then all, and meets an ended session. Every
//! page passes axe-core at 360 px and at desktop width, in Dutch and in English.

use std::time::Duration;

use fantoccini::Locator;

use crate::{
    browser::Browser,
    consent_truth::{consent, consented},
    harness::{TestApp, fresh_phone, spawn},
    self_service::nth_code_sent_to,
};

/// What the pages say, in the language walked.
struct Words {
    query: &'static str,
    entry: &'static str,
    code: &'static str,
    wrong: &'static str,
    overview: &'static str,
    withdrawn: &'static str,
    withdrawn_all: &'static str,
    ended: &'static str,
}

const NL: Words = Words {
    query: "",
    entry: "Mijn toestemmingen bij Acme Energie B.V.",
    code: "Voer uw code in",
    wrong: "Deze code klopt niet. Nog 4 poging(en).",
    overview: "Mijn toestemmingen",
    withdrawn: "Uw toestemming is ingetrokken. U wordt er niet meer op gebeld.",
    withdrawn_all: "Al uw toestemmingen zijn ingetrokken. Acme Energie B.V. belt u er niet meer op.",
    ended: "Uw sessie is afgelopen. Vul uw nummer opnieuw in om verder te gaan.",
};

const EN: Words = Words {
    query: "?lang=en",
    entry: "My consents with Acme Energie B.V.",
    code: "Enter your code",
    wrong: "That code is not right. 4 attempt(s) left.",
    overview: "My consents",
    withdrawn: "Your consent is withdrawn. You will not be called on it.",
    withdrawn_all: "All your consents are withdrawn. Acme Energie B.V. will not call you on them.",
    ended: "Your session has ended. Enter your number again to continue.",
};

async fn type_into(b: &Browser, css: &str, text: &str) {
    let field = b.client.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// The whole flow in one language at one width, checking every page.
async fn walk(app: &TestApp, b: &Browser, w: &Words, tag: &str) {
    let phone = fresh_phone();
    consent(app, &phone, "energy").await;
    consent(app, &phone, "insurance").await;

    b.open(&app.url(&format!("/t/acme/consents{}", w.query))).await;
    b.h1_is(w.entry).await;
    b.shot(&format!("consents-entry-{tag}")).await;
    type_into(b, "#phone", &phone).await;
    b.click("button.yes").await;
    b.h1_is(w.code).await;
    b.shot(&format!("consents-code-{tag}")).await;
    let code = nth_code_sent_to(app, &phone, 1).await;
    let wrong = format!("{}{}", &code[..5], (code[5..].parse::<u8>().unwrap() + 1) % 10);
    type_into(b, "#code", &wrong).await;
    b.click("button.yes").await;
    b.shows("#code-error", w.wrong).await;
    b.shot(&format!("consents-code-error-{tag}")).await;
    type_into(b, "#code", &code).await;
    b.click("button.yes").await;
    b.h1_is(w.overview).await;
    b.shot(&format!("consents-overview-{tag}")).await;

    // The newest consent (insurance) comes first: withdraw it.
    b.click("article.consent-item form button").await;
    b.shows("p.notice", w.withdrawn).await;
    assert!(!consented(app, &phone, "insurance").await, "the page said it was withdrawn");
    assert!(consented(app, &phone, "energy").await, "only the one");
    b.shot(&format!("consents-withdrawn-{tag}")).await;
    b.click("input[value=all] ~ button").await;
    b.shows("p.notice", w.withdrawn_all).await;
    assert!(!consented(app, &phone, "energy").await);
    b.shot(&format!("consents-withdrawn-all-{tag}")).await;

    // The session runs out (as after 15 minutes): the page asks for the number again.
    let sessions: Vec<String> = app.keys().await.into_iter().filter(|k| k.contains(":ss:")).collect();
    for s in &sessions {
        let _: () = redis::cmd("DEL").arg(s).query_async(&mut app.redis().await).await.unwrap();
    }
    b.client.refresh().await.unwrap();
    b.shows("p.notice", w.ended).await;
    b.h1_is(w.entry).await;
    b.shot(&format!("consents-ended-{tag}")).await;
}

#[tokio::test]
async fn a_person_sees_and_withdraws_their_consents_in_a_real_browser_at_phone_width() {
    let app = spawn().await;
    let b = Browser::start().await;
    walk(&app, &b, &NL, "nl").await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    walk(&app, &b, &EN, "en").await;
    b.close().await;
}

#[tokio::test]
async fn the_consents_pages_pass_axe_at_desktop_width_in_dutch_and_english() {
    let app = spawn().await;
    let b = Browser::desktop().await;
    walk(&app, &b, &NL, "nl-desktop").await;
    walk(&app, &b, &EN, "en-desktop").await;
    b.close().await;
}
