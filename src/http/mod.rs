//! HTTP plumbing shared by the API and the pages: body parsing, client IP, headers.

mod client_ip;
pub mod idempotency;
pub mod json;
pub mod metrics;

pub use client_ip::client_ip;
pub use json::ApiJson;
