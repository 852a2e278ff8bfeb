//! Integration tests: the real HTTP server on a random port, a real Redis (standalone and a
//! 3-master cluster, started by `scripts/test`), each test under its own key prefix.

mod at_rest;
mod bad_input;
mod browser;
mod calls;
mod campaign;
mod check_config;
mod code_flow;
mod concurrency;
mod consent_truth;
mod consents;
mod crash;
mod dev_secrets;
mod email_and_misc;
mod email_receivers;
mod evidence_policy;
mod free_text;
mod harness;
mod idempotency;
mod lanes;
mod limits;
mod link_flow;
mod pacing;
mod pages;
mod parsers;
mod payload_docs;
mod pii_at_rest;
mod providers;
mod proxies;
mod receipt_access;
mod receiver;
mod report_replay;
mod rotation;
mod smtp;
mod store_cluster;
mod webhooks;
