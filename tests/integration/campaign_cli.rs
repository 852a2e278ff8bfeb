//! `optin-verify campaign`: a customer export through the batch route, run as a marketer would
//! run it: the real binary against a real service, killed halfway and run again.

use std::{path::PathBuf, time::Duration};

use tokio::process::Command;

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};

use crate::{
    campaign::always_open,
    harness::{TestApp, spawn_with, standalone_db},
};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_optin-verify"))
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("campaign-{}-{name}", rand::random::<u64>()))
}

fn template() -> PathBuf {
    let p = temp("start.json");
    let t = json!({
        "method": "link", "channel": "sms", "initiated_by": "marketer",
        "purpose": {"id": "energy-offers", "text": "Telefonische aanbiedingen over energiecontracten"},
        "consent_text": {"version": "2026-03", "text": "Ja, Acme Energie mag mij bellen over energiecontracten."}
    });
    std::fs::write(&p, serde_json::to_vec(&t).unwrap()).unwrap();
    p
}

async fn app() -> TestApp {
    spawn_with(|s| {
        always_open(s);
        s.limits.tenant_per_minute = 1_000_000;
        s.redis.url = standalone_db(4);
    })
    .await
}

/// The 25 bad rows of the big file: row number (from 1) and what the results file must say.
fn bad_rows() -> Vec<(usize, &'static str)> {
    let kinds = ["invalid-phone", "country-not-allowed", "invalid-request", "invalid-row", "invalid-request"];
    (0..25).map(|i| (37 + i * 797, kinds[i % kinds.len()])).collect()
}

fn big_file(rows: usize) -> PathBuf {
    let p = temp("customers.csv");
    let bad = bad_rows();
    let mut text = String::from("phone,reference,metadata.segment,locale\n");
    for r in 1..=rows {
        let line = match bad.iter().find(|b| b.0 == r).map(|b| b.1) {
            Some("invalid-phone") => format!("12,crm-{r},a,nl"),
            Some("country-not-allowed") => format!("+4915123{r:06},crm-{r},a,nl"),
            Some("invalid-row") => format!("+3163{r:07},crm-{r}"),
            Some(_) => format!("+3163{r:07},crm-{r},a,klingon"),
            None => format!("+3163{r:07},crm-{r},a,nl"),
        };
        text.push_str(&line);
        text.push('\n');
    }
    std::fs::write(&p, text).unwrap();
    p
}

async fn verifications(app: &TestApp) -> usize {
    let mut n = 0;
    let mut c = app.redis().await;
    let mut iter: redis::AsyncIter<String> =
        redis::AsyncCommands::scan_match(&mut c, format!("{{{}:*:v:vf_*", app.prefix)).await.unwrap();
    while iter.next_item().await.is_some() {
        n += 1;
    }
    n
}

fn run_args(app: &TestApp, csv: &PathBuf, out: &PathBuf, tpl: &PathBuf) -> Command {
    let mut c = bin();
    c.args(["campaign", "run", "--api", &app.base, "--template"]).arg(tpl).arg("--csv").arg(csv).arg("--out").arg(out);
    c.arg("--quiet").env("OPTIN_API_KEY", &app.key);
    c
}

fn results(out: &PathBuf) -> Vec<Vec<String>> {
    let mut rdr = csv::Reader::from_path(out).unwrap();
    rdr.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect()
}

#[tokio::test]
async fn a_run_killed_halfway_and_run_again_sends_every_row_once_and_refuses_exactly_the_bad_ones() {
    let app = app().await;
    let (csv, out, tpl) = (big_file(20_000), temp("results.csv"), template());
    let mut child = run_args(&app, &csv, &out, &tpl).spawn().unwrap();
    // Kill -9 once about half the rows have results.
    for _ in 0..600 {
        if std::fs::read_to_string(&out).map(|t| t.lines().count()).unwrap_or(0) > 10_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().await.unwrap();
    let halfway = verifications(&app).await;
    assert!((1000..19_975).contains(&halfway), "killed after {halfway} verifications");

    let done = run_args(&app, &csv, &out, &tpl).output().await.unwrap();
    let said = String::from_utf8_lossy(&done.stdout);
    assert_eq!(done.status.code(), Some(0), "{said}{}", String::from_utf8_lossy(&done.stderr));
    assert!(said.contains("20000 rows") && said.contains("19975 accepted"), "{said}");
    assert_eq!(verifications(&app).await, 19_975, "no row sent twice, none skipped");
    let rows = results(&out);
    assert_eq!(rows.len(), 20_000);
    let bad = bad_rows();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r[0], (i + 1).to_string());
        match bad.iter().find(|b| b.0 == i + 1) {
            Some((_, kind)) => {
                assert!(r[3].is_empty(), "{r:?}");
                assert_eq!(r[5], *kind, "{r:?}");
            }
            None => {
                assert!(r[3].starts_with("vf_"), "{r:?}");
                assert_eq!((r[4].as_str(), r[1].as_str()), ("201", format!("crm-{}", i + 1).as_str()));
                assert!(r[2].contains("***"), "masked: {r:?}");
                assert!(r[8].starts_with("bt_"));
            }
        }
    }
    // Counts over the batches the run made.
    let status = bin()
        .args(["campaign", "status", "--api", &app.base, "--results"])
        .arg(&out)
        .env("OPTIN_API_KEY", &app.key)
        .output()
        .await
        .unwrap();
    let table = String::from_utf8_lossy(&status.stdout);
    assert_eq!(status.status.code(), Some(0), "{table}");
    assert!(table.starts_with("20 batch(es)"), "{table}");
    let open: u64 = ["queued", "held", "sent"]
        .iter()
        .map(|s| {
            table
                .lines()
                .find(|l| l.trim_start().starts_with(s))
                .unwrap()
                .split_whitespace()
                .last()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(open, 19_975, "{table}");
}

#[tokio::test]
async fn excel_files_work_and_bad_files_stop_before_any_request() {
    let app = app().await;
    let tpl = template();
    let semi = temp("semi.csv");
    std::fs::write(&semi, "\u{feff}phone;reference;x-notes\n+31630000001;crm-a;bel na 17u\n+31630000002;crm-b;\n")
        .unwrap();
    let out = temp("semi-results.csv");
    let r = run_args(&app, &semi, &out, &tpl).output().await.unwrap();
    assert_eq!(r.status.code(), Some(0), "{}", String::from_utf8_lossy(&r.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("row;reference;phone;verification_id;"), "in the input's separator: {text}");
    assert_eq!(text.lines().count(), 3);
    // A second run of another file, and the counts of both runs summed as they move.
    let comma = temp("comma.csv");
    std::fs::write(&comma, "phone,reference\n+31630000009,crm-c\n").unwrap();
    let out2 = temp("comma-results.csv");
    assert_eq!(run_args(&app, &comma, &out2, &tpl).output().await.unwrap().status.code(), Some(0));
    let status = |app: &TestApp| {
        let mut c = bin();
        c.args(["campaign", "status", "--api", &app.base, "--results"]).arg(&out).arg("--results").arg(&out2);
        c.env("OPTIN_API_KEY", &app.key);
        c
    };
    let count = |table: &str, state: &str| -> u64 {
        table
            .lines()
            .find(|l| l.trim_start().starts_with(state))
            .unwrap()
            .split_whitespace()
            .last()
            .unwrap()
            .parse()
            .unwrap()
    };
    let mut table = String::new();
    for _ in 0..100 {
        table = String::from_utf8_lossy(&status(&app).output().await.unwrap().stdout).to_string();
        if count(&table, "sent") == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(table.starts_with("2 batch(es)") && count(&table, "sent") == 3, "{table}");
    let first = std::fs::read_to_string(&out2).unwrap().lines().nth(1).unwrap().split(',').nth(3).unwrap().to_string();
    let r = app.post(&format!("/v1/verifications/{first}/cancel"), &json!({})).await;
    assert_eq!(r.status().as_u16(), 200);
    let table = String::from_utf8_lossy(&status(&app).output().await.unwrap().stdout).to_string();
    assert_eq!((count(&table, "sent"), count(&table, "canceled")), (2, 1), "{table}");

    let before = verifications(&app).await;
    for (content, says) in [
        ("phone,colour\n+31630000003,red\n", "unknown column \"colour\""),
        ("phone\n", "no rows"),
        ("reference\ncrm-1\n", "no `phone` column"),
    ] {
        let f = temp("bad.csv");
        std::fs::write(&f, content).unwrap();
        let r = run_args(&app, &f, &temp("r.csv"), &tpl).output().await.unwrap();
        assert_eq!(r.status.code(), Some(2), "{content}");
        assert!(String::from_utf8_lossy(&r.stderr).contains(says), "{}", String::from_utf8_lossy(&r.stderr));
    }
    let r = bin()
        .args(["campaign", "run", "--api", &app.base, "--template"])
        .arg(&tpl)
        .arg("--csv")
        .arg(&semi)
        .arg("--out")
        .arg(temp("x.csv"))
        .env_remove("OPTIN_API_KEY")
        .output()
        .await
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("OPTIN_API_KEY"));
    assert_eq!(verifications(&app).await, before, "nothing was sent");
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_waited_out_and_a_refused_key_stops_at_once() {
    let server = MockServer::start().await;
    let answer = json!({"id": "bt_000000000000000000000001", "accepted": 1, "refused": 0, "items": [
        {"index": 0, "reference": null, "status": 201, "verification": {"id": "vf_00000000000000000000000000000001", "phone": "+31 6** *** *01"}}
    ]});
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(503)).up_to_n_times(2).mount(&server).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_body_json(&answer)).mount(&server).await;
    let csv = temp("one.csv");
    std::fs::write(&csv, "phone\n+31630000001\n").unwrap();
    let (tpl, out) = (template(), temp("one-results.csv"));
    let started = std::time::Instant::now();
    let r = bin()
        .args(["campaign", "run", "--quiet", "--api", &server.uri(), "--template"])
        .arg(&tpl)
        .arg("--csv")
        .arg(&csv)
        .arg("--out")
        .arg(&out)
        .env("OPTIN_API_KEY", "ovk_test")
        .output()
        .await
        .unwrap();
    assert_eq!(r.status.code(), Some(0), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was honoured");
    let calls = server.received_requests().await.unwrap();
    assert_eq!(calls.len(), 4, "429, 503, 503, then the answer");
    let keys: Vec<_> = calls.iter().map(|c| c.headers.get("idempotency-key").unwrap().clone()).collect();
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "every try is the same batch");
    assert!(std::fs::read_to_string(&out).unwrap().contains("vf_00000000000000000000000000000001"));

    let refusing = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(401)).mount(&refusing).await;
    let r = bin()
        .args(["campaign", "run", "--quiet", "--api", &refusing.uri(), "--template"])
        .arg(&tpl)
        .arg("--csv")
        .arg(&csv)
        .arg("--out")
        .arg(temp("401.csv"))
        .env("OPTIN_API_KEY", "ovk_wrong")
        .output()
        .await
        .unwrap();
    assert_eq!(r.status.code(), Some(3));
    assert_eq!(refusing.received_requests().await.unwrap().len(), 1, "401 stops at once");

    let failing = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(500)).mount(&failing).await;
    let r = bin()
        .args(["campaign", "run", "--quiet", "--api", &failing.uri(), "--template"])
        .arg(&tpl)
        .arg("--csv")
        .arg(&csv)
        .arg("--out")
        .arg(temp("500.csv"))
        .env("OPTIN_API_KEY", "ovk_test")
        .output()
        .await
        .unwrap();
    assert_eq!(r.status.code(), Some(4));
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("stopped before row 1"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert_eq!(failing.received_requests().await.unwrap().len(), 6);
    let _: Value = json!(null);
}
