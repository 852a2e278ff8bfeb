//! Loading and validating configuration layers.

use super::*;

fn load_str(toml: &str) -> Result<Settings, ConfigError> {
    let dir = std::env::temp_dir().join(format!("optin-cfg-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("c.toml");
    std::fs::write(&file, toml).unwrap();
    let r = Settings::load(Some(&file));
    std::fs::remove_dir_all(&dir).unwrap();
    r
}

fn key_of(r: Result<Settings, ConfigError>) -> String {
    match r {
        Err(ConfigError::Invalid { key, .. }) => key,
        Err(e) => e.to_string(),
        Ok(_) => "accepted".into(),
    }
}

const REAL_TENANT: &str = r#"
[[tenants]]
id = "acme"
name = "Acme B.V."
kvk = "12345678"
api_key_sha256 = "1111111111111111111111111111111111111111111111111111111111111111"
"#;

#[test]
fn dev_defaults_load_with_the_demo_tenant() {
    let s = load_str("").unwrap();
    assert_eq!(s.mode, Mode::Dev);
    assert!(s.dev.outbox);
    assert_eq!(s.tenants.len(), 1);
    assert_eq!(s.http.bind, "127.0.0.1:8080");
}

#[test]
fn production_refuses_missing_secrets_and_the_demo_key() {
    let base = "mode = \"production\"\n";
    assert_eq!(key_of(load_str(&format!("{base}{REAL_TENANT}"))), "secrets.server_key");
    let demo = format!(
        "{base}[secrets]\nserver_key = \"{}\"\n[[tenants]]\nid = \"x\"\nname = \"X\"\nkvk = \"1\"\napi_key_sha256 = \"{}\"\n",
        "k".repeat(40),
        crate::domain::ApiKeyHash::of(DEMO_API_KEY).as_str()
    );
    assert_eq!(key_of(load_str(&demo)), "tenants.api_key_sha256");
    let outbox = format!("{base}[secrets]\nserver_key = \"{}\"\n[dev]\noutbox = true\n{REAL_TENANT}", "k".repeat(40));
    assert_eq!(key_of(load_str(&outbox)), "dev.outbox");
    let no_receipt_key = format!("{base}[secrets]\nserver_key = \"{}\"\n{REAL_TENANT}", "k".repeat(40));
    assert_eq!(key_of(load_str(&no_receipt_key)), "receipts.signing_key");
    let ok = format!(
        "{base}[secrets]\nserver_key = \"{}\"\n[receipts]\nsigning_key = \"{}\"\n{REAL_TENANT}",
        "k".repeat(40),
        "ab".repeat(32)
    );
    assert_eq!(key_of(load_str(&ok)), "accepted");
    let private = format!("{ok}[webhooks]\nallow_private_targets = true\n");
    assert_eq!(key_of(load_str(&private)), "webhooks.allow_private_targets");
    for everyone in ["0.0.0.0/0", "::/0"] {
        let open = format!("{ok}[http]\ntrusted_proxies = [\"10.0.0.0/8\", \"{everyone}\"]\n");
        assert_eq!(key_of(load_str(&open)), "http.trusted_proxies", "{everyone}");
    }
    let ranges = format!("{ok}[http]\ntrusted_proxies = [\"10.0.0.0/8\", \"fd00::/8\", \"192.0.2.1\"]\n");
    assert_eq!(key_of(load_str(&ranges)), "accepted");
    assert!(key_of(load_str("[http]\ntrusted_proxies = [\"10.0.0.0/40\"]\n")).contains("trusted_proxies"));
}

#[test]
fn bad_values_name_their_key() {
    assert_eq!(key_of(load_str("[verification]\ncode_length = 3\n")), "verification.code_length");
    assert_eq!(key_of(load_str("[http]\nbind = \"nope\"\n")), "http.bind");
    assert_eq!(key_of(load_str("[redis]\nkey_prefix = \"a b\"\n")), "redis.key_prefix");
    let bad_hash = REAL_TENANT.replace("1111111111111111111111111111111111111111111111111111111111111111", "xyz");
    assert_eq!(key_of(load_str(&bad_hash)), "tenants[0].api_key_sha256");
    let bad_country = format!("{REAL_TENANT}allowed_countries = [\"XX\"]\n");
    assert_eq!(key_of(load_str(&bad_country)), "tenants[0].allowed_countries");
    let unknown = key_of(load_str("[http]\nbindd = \"x\"\n"));
    assert!(unknown.contains("bindd"), "{unknown}");
    assert!(key_of(load_str("mode = 7\n")).contains("mode"));
    let pale = format!("{REAL_TENANT}[tenants.branding]\naccent_color = \"#ffcc00\"\n");
    assert_eq!(key_of(load_str(&pale)), "tenants[0].branding.accent_color");
    let garbage = format!("{REAL_TENANT}[tenants.branding]\naccent_color = \"blue\"\n");
    assert_eq!(key_of(load_str(&garbage)), "tenants[0].branding.accent_color");
    let dark = format!("{REAL_TENANT}[tenants.branding]\naccent_color = \"#0b5394\"\nlogo_url = \"http://x\"\n");
    assert_eq!(key_of(load_str(&dark)), "tenants[0].branding.logo_url");
}

#[test]
fn contrast_follows_wcag() {
    assert!((contrast_with_white("#000000").unwrap() - 21.0).abs() < 0.01);
    assert!((contrast_with_white("#ffffff").unwrap() - 1.0).abs() < 0.01);
    assert!(contrast_with_white("#0b5394").unwrap() > 7.0);
    assert!(contrast_with_white("#777777").unwrap() < 4.5);
}

#[test]
fn a_tenant_text_without_its_required_placeholder_stops_start_up() {
    let text = format!("{REAL_TENANT}[tenants.messages.nl]\nsms_code = \"{{brand}}: bel ons\"\n");
    let err = load_str(&text).expect_err("refused");
    assert!(err.to_string().contains("tenants[0].messages.nl.sms_code"), "{err}");
    assert!(err.to_string().contains("{code}"), "{err}");
    let sender = "[channels.sms]\nsender = \"VoorbeeldEnergie\"\n[[channels.sms.providers]]\nkind = \"cm\"\nproduct_token = \"t\"\n";
    assert_eq!(key_of(load_str(sender)), "channels.sms.sender");
}

#[test]
fn retired_receipt_keys_are_checked_at_load() {
    let good = "[receipts]\n[[receipts.retired_keys]]\npublic_key = \"jFbmkfn8Xo4WtooRP68uE0oPIxDwM4oeuXxt6o2FOVQ\"\n";
    let s = load_str(good).unwrap();
    assert_eq!(s.receipts.retired_keys.len(), 1);
    let bad = "[receipts]\n[[receipts.retired_keys]]\npublic_key = \"abc\"\nkid = \"old\"\n";
    assert_eq!(key_of(load_str(bad)), "receipts.retired_keys[0]");
}

#[test]
fn the_webhook_pipeline_needs_room_for_one_redis_command() {
    assert_eq!(load_str("").unwrap().webhooks.redis_in_flight, 16);
    assert_eq!(key_of(load_str("[webhooks]\nredis_in_flight = 0\n")), "webhooks");
    assert_eq!(load_str("[webhooks]\nredis_in_flight = 1\n").unwrap().webhooks.redis_in_flight, 1);
}

#[test]
fn the_webhook_thread_takes_a_nice_value_from_0_to_19() {
    assert_eq!(load_str("").unwrap().webhooks.thread_nice, 10);
    assert_eq!(load_str("[webhooks]\nthread_nice = 0\n").unwrap().webhooks.thread_nice, 0);
    assert_eq!(key_of(load_str("[webhooks]\nthread_nice = 20\n")), "webhooks.thread_nice");
}
