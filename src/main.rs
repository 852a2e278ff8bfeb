//! `optin-verify serve | keygen | check-config | store-info | healthcheck | campaign | openapi |
//! verify-proof | verify-receipt`.

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use optin_verify::{
    config::{Mode, Settings},
    dev_redis,
    domain::{ApiKey, ServerKey},
    evidence::ReceiptSigner,
    startup::{Application, Role},
    telemetry,
};

#[derive(Parser)]
#[command(name = "optin-verify", version, about = "Verified opt-in for telephone marketing")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service.
    Serve {
        /// A TOML file layered over the defaults and the mode file.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "all")]
        role: Role,
    },
    /// Print a fresh API key and the SHA-256 hash to put in `tenants.api_key_sha256`.
    Keygen {
        /// Print a receipt signing key pair and its kid instead (see docs/OPERATIONS.md, "Rotating keys").
        #[arg(long, conflicts_with = "server")]
        receipt: bool,
        /// Print a fresh server key instead (for `secrets.server_key`).
        #[arg(long)]
        server: bool,
    },
    /// Validate a configuration file (with the defaults and environment) and exit.
    CheckConfig { file: PathBuf },
    /// Print the store's layout stamp, key count, Redis memory and policy, and whether this
    /// release would start on it. Reads only (README, "Upgrading").
    StoreInfo {
        /// The same file `serve --config` takes.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Exit 0 when the local service answers /health/live (for container healthchecks).
    Healthcheck {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
    },
    /// Run a re-permission campaign from a CSV export, or follow one (docs/CAMPAIGNS.md).
    Campaign {
        #[command(subcommand)]
        command: CampaignCommand,
    },
    /// Print the OpenAPI document (with its `webhooks` section), as committed in `openapi.json`.
    Openapi {
        /// The `servers` entry: the deployment's public address.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server: String,
    },
    /// Check a proof bundle offline: every receipt signature and every text hash. Exits 1 when
    /// anything does not check out.
    VerifyProof {
        /// The bundle, as `GET /v1/consents/proof` returned it.
        file: String,
        /// The issuer's JWK Set (a file or an https URL) instead of the keys in the bundle.
        #[arg(long)]
        jwks: Option<String>,
    },
    /// Check one receipt (the JWS, or a file holding it) against a JWK Set. Exits 1 when it
    /// does not check out.
    VerifyReceipt {
        /// A file or URL, such as https://<service>/.well-known/jwks.json.
        #[arg(long)]
        jwks: String,
        receipt: String,
    },
}

#[derive(Subcommand)]
enum CampaignCommand {
    /// Send every row through the batch route; safe to run again after a crash or Ctrl-C.
    Run {
        /// The service, e.g. https://verify.example.nl
        #[arg(long)]
        api: String,
        /// A JSON start body without `phone`: the fields every row shares.
        #[arg(long)]
        template: PathBuf,
        /// The customer export: a header with at least `phone`; `,` or `;` separated.
        #[arg(long)]
        csv: PathBuf,
        /// The results file, one line per row (rewritten on every run).
        #[arg(long)]
        out: PathBuf,
        /// A file holding the API key; otherwise `OPTIN_API_KEY`.
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Only the summary.
        #[arg(long)]
        quiet: bool,
    },
    /// Sum the counts of the batches a run made; `--watch` until none is open.
    Status {
        #[arg(long)]
        api: String,
        /// A results file that `campaign run` wrote; give it more than once to sum several runs.
        #[arg(long, required = true)]
        results: Vec<PathBuf>,
        #[arg(long)]
        key_file: Option<PathBuf>,
        #[arg(long)]
        watch: bool,
    },
}

/// mimalloc instead of glibc malloc: glibc's malloc/free were about 10% of a `check` profile.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Keygen { receipt: true, .. } => {
            let (secret, signer) = ReceiptSigner::generate();
            println!("# receipts.signing_key: secret, keep it out of config files");
            println!("signing_key = \"{secret}\"");
            println!("# after the next rotation, add these to receipts.retired_keys");
            println!("public_key  = \"{}\"", signer.public_key());
            println!("kid         = \"{}\"", signer.kid());
            ExitCode::SUCCESS
        }
        Command::Keygen { server: true, .. } => {
            println!("server_key = \"{}\"", ServerKey::generate_hex());
            ExitCode::SUCCESS
        }
        Command::Keygen { .. } => {
            let key = ApiKey::generate();
            println!("api_key        = {}", key.expose());
            println!("api_key_sha256 = {}", key.hash().as_str());
            ExitCode::SUCCESS
        }
        Command::CheckConfig { file } => match Settings::load(Some(&file)) {
            Ok(s) => {
                println!("{}: valid ({:?} mode, {} tenant(s))", file.display(), s.mode, s.tenants.len());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                ExitCode::from(2)
            }
        },
        Command::StoreInfo { config } => store_info(config.as_deref()),
        Command::Healthcheck { addr } => healthcheck(&addr),
        Command::Campaign { command } => campaign(command),
        Command::Openapi { server } => {
            let doc = optin_verify::api::served(&server);
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Command::VerifyProof { file, jwks } => {
            verdict(optin_verify::offline::verify_proof(&file, jwks.as_deref(), &mut std::io::stdout()))
        }
        Command::VerifyReceipt { jwks, receipt } => {
            verdict(optin_verify::offline::verify_receipt(&jwks, &receipt, &mut std::io::stdout()))
        }
        Command::Serve { config, role } => {
            let settings = match Settings::load(config.as_deref()) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("optin-verify: {e}");
                    return ExitCode::from(2);
                }
            };
            telemetry::init(settings.mode == Mode::Production);
            match actix_web::rt::System::new().block_on(serve(settings, role)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("optin-verify: {}", with_causes(e.as_ref()));
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// An error and the causes its message does not already say (Redis's own words, say).
fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let said = c.to_string();
        if !text.contains(&said) {
            text = format!("{text}: {said}");
        }
        cause = c.source();
    }
    text
}

async fn serve(settings: Settings, role: Role) -> Result<(), Box<dyn std::error::Error>> {
    let _dev_redis = if settings.mode == Mode::Dev && settings.dev.spawn_redis && !settings.redis.cluster {
        dev_redis::ensure(&settings.redis.url).await?
    } else {
        None
    };
    let demo = demo_key(&settings);
    let kept = settings.dev.secrets_file.clone();
    let bind = settings.http.bind.clone();
    let app = Application::build(settings, role).await?;
    tracing::info!(bind = %bind, port = app.port(), ?role, "optin-verify listening");
    if let Some(key) = demo {
        // The demo key is public (it ships in config/dev.toml), so printing it leaks nothing.
        println!("\n  DEV MODE. Demo tenant API key: {key}\n  Outbox: GET /dev/outbox");
        if !kept.is_empty() {
            println!("  Generated secrets are kept in {kept} (delete it for new ones)");
        }
        println!();
    }
    app.run_until_stopped().await?;
    Ok(())
}

/// 0 when the store could be read, 1 when Redis did not answer, 2 for a refused setting.
fn store_info(config: Option<&std::path::Path>) -> ExitCode {
    let settings = match Settings::load(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("optin-verify: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("optin-verify: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = rt.block_on(async {
        let store = optin_verify::startup::open_store(&settings).await?;
        optin_verify::preflight::store_info(&store, &settings).await
    });
    match report {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("optin-verify store-info: {}", with_causes(&e));
            ExitCode::FAILURE
        }
    }
}

/// 0 when every row has its result; 2 when nothing could start, 3 when the key was refused, 4
/// when the service kept failing (docs/CAMPAIGNS.md).
fn campaign(command: CampaignCommand) -> ExitCode {
    use optin_verify::campaign::{RunArgs, api_key, run, status};
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("optin-verify: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match command {
        CampaignCommand::Run { api, template, csv, out, key_file, quiet } => api_key(key_file.as_deref())
            .and_then(|key| rt.block_on(run(RunArgs { api, key, template, csv, out, quiet }))),
        CampaignCommand::Status { api, results, key_file, watch } => {
            api_key(key_file.as_deref()).and_then(|key| rt.block_on(status(&api, key, &results, watch)))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("optin-verify campaign: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// 0 when everything checked out, 1 when something did not, 2 when it could not be checked.
fn verdict(result: Result<bool, String>) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("optin-verify: {e}");
            ExitCode::from(2)
        }
    }
}

fn demo_key(settings: &Settings) -> Option<String> {
    if settings.mode != Mode::Dev || settings.dev.demo_api_key.is_empty() {
        return None;
    }
    let hash = optin_verify::domain::ApiKeyHash::of(&settings.dev.demo_api_key);
    settings
        .tenants
        .iter()
        .any(|t| t.api_key_sha256.eq_ignore_ascii_case(hash.as_str()))
        .then(|| settings.dev.demo_api_key.clone())
}

fn healthcheck(addr: &str) -> ExitCode {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return ExitCode::FAILURE;
    };
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(3)));
    if s.write_all(b"GET /health/live HTTP/1.0\r\nHost: localhost\r\n\r\n").is_err() {
        return ExitCode::FAILURE;
    }
    let mut buf = [0u8; 32];
    match s.read(&mut buf) {
        Ok(n) if buf[..n].starts_with(b"HTTP/1.1 200") || buf[..n].starts_with(b"HTTP/1.0 200") => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}
