//! End-to-end in a real headless Chromium over WebDriver (chromedriver), at phone width.
//! Screenshots of every page, in Dutch and English, go to `artifacts/screenshots/`
//! (kept by CI, ignored by git).

use std::{path::PathBuf, process::Stdio, time::Duration};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::{
    consent_truth::{consent, consented},
    harness::{TestApp, code_in, link_in, spawn, start_body, wrong},
};

pub(crate) struct Browser {
    pub(crate) client: Client,
    driver: std::process::Child,
    _profile: PathBuf,
}

impl Browser {
    /// At phone width (360 px, mobile emulation).
    pub(crate) async fn start() -> Self {
        Self::start_at(true).await
    }

    /// At desktop width (1280 px).
    pub(crate) async fn desktop() -> Self {
        Self::start_at(false).await
    }

    async fn start_at(phone: bool) -> Self {
        let driver_bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = std::process::Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{driver_bin} must be installed (scripts/test installs chromium-driver): {e}"));
        let profile = std::env::temp_dir().join(format!("optin-chromium-{port}"));
        let mut options = json!({"binary": chromium, "args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
            if phone { "--window-size=360,800" } else { "--window-size=1280,900" },
            format!("--user-data-dir={}", profile.display()),
        ]});
        if phone {
            options["mobileEmulation"] = json!({"deviceMetrics": {"width": 360, "height": 780, "pixelRatio": 1.0}});
        }
        let caps = json!({"goog:chromeOptions": options});
        let caps = caps.as_object().unwrap().clone();
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            match ClientBuilder::new(HttpConnector::new()).capabilities(caps.clone()).connect(&url).await {
                Ok(client) => return Self { client, driver, _profile: profile },
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        panic!("chromedriver did not start a session");
    }

    pub(crate) async fn open(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap(),
            Err(e) => {
                let url = self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
                let src = self.client.source().await.unwrap_or_default();
                panic!("no {css} on {url}: {e}\n{}", &src[..src.len().min(2000)]);
            }
        }
    }

    /// Waits for the page (after a click, the next one) to show `expected` in `css`.
    pub(crate) async fn shows(&self, css: &str, expected: &str) {
        for _ in 0..200 {
            if let Ok(e) = self.client.find(Locator::Css(css)).await
                && e.text().await.is_ok_and(|t| t == expected)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(self.text(css).await, expected);
    }

    pub(crate) async fn h1_is(&self, expected: &str) {
        self.shows("h1", expected).await;
    }

    pub(crate) async fn click(&self, css: &str) {
        self.client.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
    }

    /// Saves a screenshot and checks the page fits a 360 px screen without sideways scrolling.
    pub(crate) async fn shot(&self, name: &str) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), self.client.screenshot().await.unwrap()).unwrap();
        let fits = self
            .client
            .execute("return document.documentElement.scrollWidth <= window.innerWidth;", vec![])
            .await
            .unwrap();
        assert_eq!(fits, json!(true), "{name} scrolls sideways at 360 px");
        self.accessible(name).await;
    }

    /// Runs axe-core (the accessibility engine browsers' own audits use) on the page, for WCAG
    /// 2.1 A and AA, and fails on any violation.
    pub(crate) async fn accessible(&self, name: &str) {
        let path = std::env::var("OPTIN_TEST_AXE")
            .expect("OPTIN_TEST_AXE names axe-core's axe.min.js: run the suite with scripts/test, which fetches it");
        let axe = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        self.client.execute(&format!("{axe}\nreturn true;"), vec![]).await.unwrap();
        let violations = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
                    .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.html)}))))
                    .catch(e => done([{id: 'axe-error', impact: String(e), nodes: []}]));",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(violations, json!([]), "{name}: axe-core found accessibility violations");
    }

    pub(crate) async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A failed assertion must not leave a chromedriver behind.
impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

async fn link_of(app: &TestApp) -> (String, String) {
    let id = app.start(&start_body("link", "sms")).await["id"].as_str().unwrap().to_string();
    let text = app.outbox_message(&id).await["text"].as_str().unwrap().to_string();
    (id, app.url(&link_in(&text, "c")))
}

#[tokio::test]
async fn confirm_see_receipt_withdraw_and_reuse_the_link() {
    let app = spawn().await;
    let b = Browser::start().await;
    let (id, link) = link_of(&app).await;

    // A pre-fetch (GET, no click) leaves it pending.
    b.open(&link).await;
    assert_eq!(app.status_of(&id).await, "pending");
    b.h1_is("Mag Acme Energie B.V. u bellen?").await;
    let source = b.client.source().await.unwrap();
    assert!(source.contains("<dt>Belt vanaf</dt><dd>+31201234567</dd>"), "the number that will call: {source}");
    b.shot("confirm-nl").await;
    b.open(&format!("{link}?lang=en")).await;
    b.h1_is("May Acme Energie B.V. call you?").await;
    b.shot("confirm-en").await;

    b.open(&link).await;
    b.click("button.yes").await;
    b.h1_is("Uw toestemming is vastgelegd").await;
    assert_eq!(app.status_of(&id).await, "confirmed");
    let receipt_url = b.client.current_url().await.unwrap().to_string();
    assert!(receipt_url.contains("/r/rcpt_"));
    let source = b.client.source().await.unwrap();
    let facts =
        ["+31201234567", "KvK 12345678", "privacy@acme.example", "te kiezen op de bevestigingspagina", "Geldig tot"];
    for fact in facts {
        assert!(source.contains(fact), "the receipt names {fact}: {source}");
    }
    b.shot("receipt-nl").await;
    // It carries the opt-out token of the message (`?t=`): the language goes after it.
    b.open(&format!("{receipt_url}&lang=en")).await;
    b.shot("receipt-en").await;

    // Withdraw from the receipt page.
    b.open(&receipt_url).await;
    b.click("button.no").await;
    b.h1_is("Uw toestemming is ingetrokken").await;
    b.shot("withdrawn-nl").await;
    assert_eq!(app.events_for(&id).await, vec!["consent.confirmed", "consent.withdrawn"]);

    // The used link is the neutral page.
    b.open(&link).await;
    b.h1_is("Deze link is niet (meer) geldig").await;
    b.shot("invalid-nl").await;
    b.open(&format!("{link}?lang=en")).await;
    b.h1_is("This link is not valid (any more)").await;
    b.shot("invalid-en").await;
    b.close().await;
}

#[tokio::test]
async fn decline_in_the_browser() {
    let app = spawn().await;
    let b = Browser::start().await;
    let (id, link) = link_of(&app).await;
    b.open(&format!("{link}?lang=en")).await;
    b.click("button.no").await;
    b.h1_is("Understood: you will not be called").await;
    b.shot("declined-en").await;
    assert_eq!(app.status_of(&id).await, "declined");
    assert_eq!(app.events_for(&id).await, vec!["consent.declined"]);
    b.close().await;
}

#[tokio::test]
async fn wrong_then_right_code_on_the_hosted_page() {
    let app = spawn().await;
    let b = Browser::start().await;
    let started = app.start(&start_body("code", "sms")).await;
    let id = started["id"].as_str().unwrap().to_string();
    let page = started["code_page_url"].as_str().unwrap().to_string();
    let text = app.outbox_message(&id).await["text"].as_str().unwrap().to_string();
    let code = code_in(&text, 6);
    b.open(&format!("{page}?lang=en")).await;
    b.shot("code-en").await;
    b.open(&page).await;
    b.shot("code-nl").await;
    b.client.find(Locator::Css("#code")).await.unwrap().send_keys(&wrong(&code)).await.unwrap();
    b.click("button.yes").await;
    b.shows("#code-error", "Deze code klopt niet. Nog 4 poging(en).").await;
    b.shot("code-error-nl").await;
    b.client.find(Locator::Css("#code")).await.unwrap().send_keys(&code).await.unwrap();
    b.click("button.yes").await;
    b.h1_is("Uw toestemming is vastgelegd").await;
    assert_eq!(app.status_of(&id).await, "confirmed");
    let optout = app.url(&link_in(&text, "o"));
    b.open(&optout).await;
    b.shot("optout-confirmed-nl").await;
    b.close().await;
}

#[tokio::test]
async fn the_first_messages_opt_out_in_the_browser_withdraws_the_second_consent_too() {
    let app = spawn().await;
    let b = Browser::start().await;
    let phone = crate::harness::fresh_phone();
    let (first, optout, _) = consent(&app, &phone, "energy").await;
    let (second, _, _) = consent(&app, &phone, "energy").await;
    consent(&app, &phone, "insurance").await;
    b.open(&optout).await;
    b.h1_is("Uw toestemming bij Acme Energie B.V.").await;
    b.shot("optout-nl").await;
    b.click("input[value=purpose] ~ button").await;
    b.h1_is("Uw toestemming is ingetrokken").await;
    assert_eq!(b.text("main p").await, "Acme Energie B.V. belt u niet meer over: Aanbiedingen over energy.");
    b.shot("optout-withdrawn-nl").await;
    assert!(!consented(&app, &phone, "energy").await, "the page said the calls stop");
    assert!(consented(&app, &phone, "insurance").await);
    for id in [&first, &second] {
        assert_eq!(app.events_for(id).await, ["consent.confirmed", "consent.withdrawn"], "{id}");
    }
    // Everything from the brand, from the same link.
    b.open(&format!("{optout}?lang=en")).await;
    b.h1_is("Your consent with Acme Energie B.V.").await;
    b.click("input[value=all] ~ button").await;
    b.h1_is("All your consents are withdrawn").await;
    assert!(!consented(&app, &phone, "insurance").await);
    b.close().await;
}
