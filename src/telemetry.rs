//! Logging. Nothing logged anywhere may contain a phone number, address, code or token;
//! handlers log ids and masked forms only.

use tracing_subscriber::{EnvFilter, fmt};

pub fn init(json: bool) {
    let filter = EnvFilter::try_from_env("OPTIN_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_target(false);
    // A second init (tests) is harmless.
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}
