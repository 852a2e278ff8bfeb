//! `optin-verify check-config FILE` and `optin-verify serve --config FILE` run one validation:
//! a production file that one refuses, the other refuses too, with the same message naming the
//! same key, and exit 2.

use std::{
    io::Read,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

pub const SERVER_KEY: &str = "44927b8bcfb1e83c2157262a77176f33bdb5c761199ab774f26f6439e9452aa6";
const RECEIPT_KEY: &str = "d7116941e80fd40ec6ee93fa666bcb6c012e212178209003e37a86bf06a80235";

/// A configuration for `mode` on this Redis and key prefix that passes, with `server_key` and
/// extra lines in `[secrets]` and `[http]`.
pub fn config_toml(
    mode: &str,
    (redis, cluster, prefix): (&str, bool, &str),
    server_key: &str,
    secrets: &str,
    http: &str,
) -> String {
    format!(
        r#"mode = "{mode}"
[http]
bind = "127.0.0.1:0"
public_base_url = "https://verify.example.nl"
{http}
[redis]
url = "{redis}"
cluster = {cluster}
key_prefix = "{prefix}"
[dev]
spawn_redis = false
secrets_file = ""
[secrets]
server_key = "{server_key}"
{secrets}
[receipts]
signing_key = "{RECEIPT_KEY}"
[[tenants]]
id = "acme"
name = "Acme Energie B.V."
kvk = "12345678"
api_key_sha256 = "1111111111111111111111111111111111111111111111111111111111111111"
"#
    )
}

/// A production file that passes, with `extra` settings in `[secrets]` and `[http]`.
fn production_file(dir: &Path, name: &str, server_key: &str, secrets: &str, http: &str) -> PathBuf {
    let prefix = format!("t{}", rand::random::<u32>());
    let redis = crate::harness::standalone_url();
    let file = dir.join(name);
    std::fs::write(&file, config_toml("production", (&redis, false, &prefix), server_key, secrets, http)).unwrap();
    file
}

/// Runs the binary with `args` and `file`; (exit code, stderr). A process still running after
/// 20 s took the settings (serve started): it is stopped and reported as `None`.
fn run(args: &[&str], file: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_optin-verify"))
        .args(args)
        .arg(file)
        .env("OPTIN_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            return (status.code(), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return (None, "still running: the settings were taken".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The part of a refusal after the program's own prefix (`FILE: ` or `optin-verify: `).
fn reason(stderr: &str) -> String {
    let line = stderr.lines().find(|l| l.contains("configuration key")).unwrap_or(stderr);
    line.split_once("configuration key").map_or(line.to_string(), |(_, r)| format!("configuration key{r}"))
}

#[test]
fn check_config_and_serve_refuse_the_same_weak_settings_under_the_same_key() {
    let dir = std::env::temp_dir().join(format!("ov-check-config-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = production_file(&dir, "good.toml", SERVER_KEY, "", "");
    let (code, err) = run(&["check-config"], &good);
    assert_eq!(code, Some(0), "a good production file passes: {err}");

    let cases = [
        // 64 zeros: 32 bytes, but no entropy.
        (production_file(&dir, "zeros.toml", &"0".repeat(64), "", ""), "secrets.server_key"),
        (production_file(&dir, "pattern.toml", &"0123456789abcdef".repeat(4), "", ""), "secrets.server_key"),
        // Every IPv4 address in two halves, round the 0.0.0.0/0 ban.
        (
            production_file(&dir, "halves.toml", SERVER_KEY, "", r#"trusted_proxies = ["0.0.0.0/1", "128.0.0.0/1"]"#),
            "http.trusted_proxies",
        ),
        (
            production_file(&dir, "wide.toml", SERVER_KEY, "", r#"trusted_proxies = ["10.0.0.0/7"]"#),
            "http.trusted_proxies",
        ),
        // Serve refused a short pseudonym key as `secrets.server_key`; check-config took it.
        (
            production_file(&dir, "pseudonym.toml", SERVER_KEY, r#"pseudonym_key = "short""#, ""),
            "secrets.pseudonym_key",
        ),
    ];
    for (file, key) in &cases {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let named = format!("configuration key `{key}`");
        let (check_code, check_err) = run(&["check-config"], file);
        assert_eq!(check_code, Some(2), "check-config {name}: {check_err}");
        assert!(check_err.contains(&named), "check-config {name}: {check_err}");
        let (serve_code, serve_err) = run(&["serve", "--config"], file);
        assert_eq!(serve_code, Some(2), "serve {name}: {serve_err}");
        assert!(serve_err.contains(&named), "serve {name}: {serve_err}");
        assert_eq!(reason(&check_err), reason(&serve_err), "{name}: the same message");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
