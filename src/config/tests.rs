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

/// Random keys, as `keygen --server` and `keygen --receipt` print them.
const SERVER_KEY: &str = "44927b8bcfb1e83c2157262a77176f33bdb5c761199ab774f26f6439e9452aa6";
const RECEIPT_KEY: &str = "d7116941e80fd40ec6ee93fa666bcb6c012e212178209003e37a86bf06a80235";

/// A production file that passes, to which a test appends the one setting it breaks.
fn production_ok() -> String {
    format!(
        "mode = \"production\"\n[secrets]\nserver_key = \"{SERVER_KEY}\"\n[receipts]\nsigning_key = \"{RECEIPT_KEY}\"\n{REAL_TENANT}"
    )
}

#[test]
fn production_refuses_missing_secrets_and_the_demo_key() {
    let base = "mode = \"production\"\n";
    assert_eq!(key_of(load_str(&format!("{base}{REAL_TENANT}"))), "secrets.server_key");
    let demo = format!(
        "{base}[secrets]\nserver_key = \"{SERVER_KEY}\"\n[[tenants]]\nid = \"x\"\nname = \"X\"\nkvk = \"1\"\napi_key_sha256 = \"{}\"\n",
        crate::domain::ApiKeyHash::of(DEMO_API_KEY).as_str()
    );
    assert_eq!(key_of(load_str(&demo)), "tenants.api_key_sha256");
    let outbox = format!("{base}[secrets]\nserver_key = \"{SERVER_KEY}\"\n[dev]\noutbox = true\n{REAL_TENANT}");
    assert_eq!(key_of(load_str(&outbox)), "dev.outbox");
    let no_receipt_key = format!("{base}[secrets]\nserver_key = \"{SERVER_KEY}\"\n{REAL_TENANT}");
    assert_eq!(key_of(load_str(&no_receipt_key)), "receipts.signing_key");
    let ok = production_ok();
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
fn production_refuses_trusted_proxies_that_together_trust_everyone_or_too_wide_a_range() {
    let ok = production_ok();
    let with = |list: &str| load_str(&format!("{ok}[http]\ntrusted_proxies = [{list}]\n"));
    for list in [
        // Every IPv4 address in two halves, or four quarters: round the 0.0.0.0/0 ban.
        r#""0.0.0.0/1", "128.0.0.0/1""#,
        r#""0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2""#,
        r#""::/1", "8000::/1""#,
        // Wider than /8 (IPv4) or /32 (IPv6 outside fc00::/7), alone or merged.
        r#""10.0.0.0/7""#,
        r#""10.0.0.0/8", "11.0.0.0/8""#,
        r#""2000::/3""#,
        r#""2001:db8::/31""#,
        r#""fc00::/7""#,
    ] {
        let r = with(list);
        let msg = r.as_ref().err().map(ToString::to_string).unwrap_or_default();
        assert_eq!(key_of(r), "http.trusted_proxies", "{list}");
        assert!(msg.contains("wider than"), "{msg}");
    }
    let every_slash_8: Vec<String> = (0..=255).map(|a| format!("\"{a}.0.0.0/8\"")).collect();
    assert_eq!(key_of(with(every_slash_8.join(", ").as_str())), "http.trusted_proxies");
    let allowed = r#""10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "203.0.113.7", "fd00::/8", "2001:db8::/32""#;
    assert_eq!(key_of(with(allowed)), "accepted");
    // Dev mode keeps what it always took (the /0 ban is production's).
    assert_eq!(key_of(load_str("[http]\ntrusted_proxies = [\"0.0.0.0/1\", \"128.0.0.0/1\"]\n")), "accepted");
}

#[test]
fn production_refuses_keys_with_obviously_low_entropy() {
    let ok = production_ok();
    let sequence: String = (0u8..32).map(|b| format!("{b:02x}")).collect();
    for weak in ["0".repeat(64), "deadbeef".repeat(8), "0123456789abcdef".repeat(4), "k".repeat(40), sequence] {
        let server = ok.replace(SERVER_KEY, &weak);
        assert_eq!(key_of(load_str(&server)), "secrets.server_key", "{weak}");
        // Dev mode is not production: a made-up key is fine there.
        assert_eq!(key_of(load_str(&format!("[secrets]\nserver_key = \"{weak}\"\n"))), "accepted", "{weak}");
    }
    let err = load_str(&ok.replace(SERVER_KEY, &"0".repeat(64))).err().unwrap().to_string();
    assert!(err.contains("low entropy"), "{err}");
    for weak in ["00".repeat(32), "ab".repeat(32), "0123456789abcdef".repeat(4)] {
        let receipt = ok.replace(RECEIPT_KEY, &weak);
        assert_eq!(key_of(load_str(&receipt)), "receipts.signing_key", "{weak}");
    }
    // Through a file, the file's setting is named.
    let dir = std::env::temp_dir().join(format!("optin-key-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("server_key");
    std::fs::write(&file, format!("{}\n", "0".repeat(64))).unwrap();
    let via_file =
        ok.replace(&format!("server_key = \"{SERVER_KEY}\"\n"), &format!("server_key_file = \"{}\"\n", file.display()));
    assert_eq!(key_of(load_str(&via_file)), "secrets.server_key_file");
    std::fs::write(&file, SERVER_KEY).unwrap();
    assert_eq!(key_of(load_str(&via_file)), "accepted");
    std::fs::remove_dir_all(&dir).unwrap();
    // Keys an operator rotates away from are only parsed: refusing them would block the rotation.
    let zeros = "0".repeat(64);
    let rotating = ok.replace(
        &format!("server_key = \"{SERVER_KEY}\"\n"),
        &format!("server_key = \"{SERVER_KEY}\"\nprevious_server_keys = [\"{zeros}\"]\npseudonym_key = \"{zeros}\"\n"),
    );
    assert_eq!(key_of(load_str(&rotating)), "accepted");
}

/// `check-config` (`Settings::load`) and `serve` (which builds its keys with
/// `Settings::server_keys` and `Settings::receipt_signer`) refuse the same key under the same
/// name. Before, a short `pseudonym_key` passed check-config and serve refused it as
/// `secrets.server_key`.
#[test]
fn a_key_serve_refuses_is_refused_by_check_config_under_its_own_name() {
    type Case = (&'static str, fn(&mut SecretSettings), &'static str);
    let cases: [Case; 3] = [
        ("pseudonym_key = \"short\"\n", |s| s.pseudonym_key = "short".into(), "secrets.pseudonym_key"),
        (
            "previous_server_keys = [\"short\"]\n",
            |s| s.previous_server_keys = vec!["short".into()],
            "secrets.previous_server_keys[0]",
        ),
        (
            "previous_server_keys_file = \"/nonexistent/optin-previous-keys\"\n",
            |s| s.previous_server_keys_file = "/nonexistent/optin-previous-keys".into(),
            "secrets.previous_server_keys_file",
        ),
    ];
    for (lines, set, key) in cases {
        let toml = format!("[secrets]\nserver_key = \"{SERVER_KEY}\"\n{lines}");
        assert_eq!(key_of(load_str(&toml)), key, "check-config: {lines}");
        // The same settings as serve gets them (built apart here, past the load's validation).
        let mut s = load_str("").unwrap();
        s.secrets.server_key = SERVER_KEY.into();
        set(&mut s.secrets);
        let refused = s.server_keys().err().expect("serve refuses it too");
        assert_eq!(key_of(Err(refused)), key, "serve: {lines}");
        let refused = s.server_keys().err().expect("serve refuses it too");
        let startup = crate::startup::StartupError::from(refused);
        assert!(startup.to_string().contains(&format!("configuration key `{key}`")), "{startup}");
    }
    assert_eq!(key_of(load_str("[secrets]\nserver_key = \"short\"\n")), "secrets.server_key");
    assert_eq!(key_of(load_str("[receipts]\nsigning_key = \"not-a-key\"\n")), "receipts.signing_key");
    let mut s = load_str("").unwrap();
    s.receipts.signing_key = "not-a-key".into();
    assert_eq!(key_of(s.receipt_signer().map(|_| s.clone())), "receipts.signing_key");
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

/// The mail settings the transport would refuse at start are refused by `check-config` too.
#[test]
fn mail_settings_serve_refuses_are_refused_by_check_config() {
    let mail = |from: &str, algorithm: &str, key: &str| {
        format!(
            "[channels.email.smtp]\nhost = \"127.0.0.1\"\nport = 25\ntls = \"none\"\nfrom = \"{from}\"\n\
             [channels.email.smtp.dkim]\ndomain = \"acme.example\"\nselector = \"s1\"\nalgorithm = \"{algorithm}\"\n\
             private_key = \"{key}\"\n"
        )
    };
    let seed = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
    assert_eq!(key_of(load_str(&mail("Acme <verify@acme.example>", "ed25519", seed))), "accepted");
    assert_eq!(key_of(load_str(&mail("verify@", "ed25519", seed))), "channels.email.smtp.from");
    assert_eq!(
        key_of(load_str(&mail("verify@acme.example", "ed25519", "c2hvcnQ="))),
        "channels.email.smtp.dkim.private_key"
    );
    assert_eq!(
        key_of(load_str(&mail("verify@acme.example", "rsa", "not a pem"))),
        "channels.email.smtp.dkim.private_key"
    );
    assert_eq!(key_of(load_str(&mail("verify@acme.example", "dsa", seed))), "channels.email.smtp.dkim.algorithm");
}

#[test]
fn the_cap_over_all_tenants_is_never_below_one_tenants_limit() {
    let limits = |ten: u32, day: u32| {
        format!("[limits]\ndestination_all_tenants_per_10m = {ten}\ndestination_all_tenants_per_day = {day}\n")
    };
    assert_eq!(key_of(load_str(&limits(5, 10))), "accepted");
    assert_eq!(key_of(load_str(&limits(4, 30))), "limits.destination_all_tenants_per_10m");
    assert_eq!(key_of(load_str(&limits(15, 9))), "limits.destination_all_tenants_per_day");
}
