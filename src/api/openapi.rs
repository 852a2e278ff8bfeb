//! The OpenAPI document. Handlers declare their success answers; the problem answers every
//! operation can give (401 on `/v1`, 400/413/415/422 on JSON bodies, 404 on ids, 409 on
//! idempotent POSTs, 503 when Redis is away) are added here from the operation's shape, so
//! that no route forgets one. `problem_types` adds what only some operations answer.

use std::collections::BTreeMap;

use utoipa::{
    Modify, OpenApi,
    openapi::{
        self, ContentBuilder, HeaderBuilder, ObjectBuilder, Ref, RefOr, ResponseBuilder, Type,
        path::{Operation, ParameterBuilder, ParameterIn},
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use super::{
    batch_items, batches, call_outcome, consents, events, ops, proof, verifications, webhook_endpoint_edit,
    webhook_endpoints, withdrawals,
};
use crate::error::PROBLEM_BASE;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "optin-verify",
        description = "Verified opt-in for Dutch telephone marketing: the three ways the ACM accepts \
            (a landing-page link, a code, an announced and recorded verification call), evidence \
            with signed receipts, and signed webhooks to consent stores. Errors are \
            application/problem+json (RFC 9457) with a stable `type` per kind of error."
    ),
    servers((url = "/", description = "This service (the served document names its public_base_url)")),
    tags(
        (name = "verifications", description = "Start, check and follow verifications"),
        (name = "webhooks", description = "Endpoints of consent stores, events and their deliveries"),
        (name = "batches", description = "Re-permission campaigns: up to 1,000 starts at once, and their progress"),
        (name = "consents", description = "A number's consent state, asked before every call, and its proof on request"),
        (name = "withdrawals", description = "Opt-outs received elsewhere"),
        (name = "operations", description = "Health, receipt keys and the dev outbox; no API key"),
    ),
    security(("api_key" = [])),
    paths(
        verifications::start,
        batches::create,
        batches::get,
        batch_items::list,
        consents::lookup,
        consents::lookup_many,
        proof::get,
        verifications::get,
        verifications::check,
        verifications::resend,
        verifications::cancel,
        call_outcome::report,
        webhook_endpoints::create,
        webhook_endpoints::list,
        webhook_endpoints::get,
        webhook_endpoints::delete,
        webhook_endpoint_edit::update,
        webhook_endpoint_edit::test,
        webhook_endpoint_edit::recover,
        webhook_endpoints::rotate_secret,
        events::list,
        events::get,
        events::deliveries,
        events::redeliver,
        withdrawals::create,
        ops::jwks,
        ops::live,
        ops::ready,
        ops::outbox,
    ),
    components(schemas(crate::error::Problem, crate::store::OutboxMessage)),
    modifiers(&BearerAuth, &Problems)
)]
pub struct ApiDoc;

/// The document as served: `servers` names this deployment's public address.
pub fn document(public_base_url: &str) -> openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.servers = Some(vec![openapi::Server::new(public_base_url.trim_end_matches('/'))]);
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, schema) in crate::webhooks::schema::referenced_schemas() {
        components.schemas.entry(name).or_insert(schema);
    }
    for (_, name, schema) in crate::webhooks::schema::event_schemas() {
        components.schemas.insert(name.to_string(), schema);
    }
    doc
}

/// The document as served and committed (`openapi.json`): the API, and under `webhooks` (an
/// OpenAPI 3.1 section utoipa does not model) one schema per event type consent stores receive.
pub fn served(public_base_url: &str) -> serde_json::Value {
    let mut doc = serde_json::to_value(document(public_base_url)).unwrap_or_default();
    doc["webhooks"] = crate::webhooks::schema::webhooks_section();
    doc
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        // utoipa copies Cargo's license, which this crate does not declare: no empty object.
        doc.info.license.take_if(|l| l.name.is_empty());
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The tenant's API key: `Authorization: Bearer <key>`"))
                    .build(),
            ),
        );
    }
}

/// Problem types an operation answers beyond what its shape implies.
fn problem_types(operation_id: &str) -> &'static [(u16, &'static [&'static str])] {
    const PHONE: &[&str] = &["invalid-phone", "country-not-allowed", "phone-not-mobile", "premium-rate-number"];
    match operation_id {
        "start_verification" => &[
            (422, PHONE),
            (
                422,
                &[
                    "invalid-email",
                    "caller-number-not-registered",
                    "call-window-in-past",
                    "call-window-too-short",
                    "call-window-too-long",
                    "call-window-too-far-ahead",
                    "call-window-outside-calling-hours",
                ],
            ),
            (422, &["number-suppressed"]),
            (422, &["evidence-required", "pre-ticked-consent"]),
            (409, &["already-consented"]),
            (429, &["rate-limited"]),
        ],
        "create_batch" => &[(422, &["idempotency-key-reused"])],
        "get_consents" => &[(422, PHONE)],
        "get_consent_proof" => &[(422, PHONE)],
        "lookup_consents" => &[(422, &["invalid-request"])],
        "resend_verification" => &[(409, &["verification-not-pending"]), (429, &["rate-limited"])],
        "cancel_verification" => &[(409, &["verification-not-pending"])],
        "report_call_outcome" => &[
            (409, &["verification-not-pending"]),
            (
                422,
                &[
                    "not-a-call-verification",
                    "called-at-in-future",
                    "called-outside-window",
                    "caller-number-mismatch",
                    "recording-required",
                    "new-window-required",
                    "call-window-changed",
                    "call-window-in-past",
                    "call-window-too-short",
                    "call-window-too-long",
                    "call-window-too-far-ahead",
                    "call-window-outside-calling-hours",
                ],
            ),
            (422, PHONE),
        ],
        "create_withdrawal" => &[(404, &["not-found"]), (409, &["already-withdrawn"]), (422, PHONE)],
        "get_readiness" => &[(503, &["service-unavailable"])],
        "list_dev_outbox" => &[(503, &["service-unavailable"])],
        _ => &[],
    }
}

const STATUS_TEXT: &[(u16, &str)] = &[
    (400, "The body is not valid JSON."),
    (401, "No valid API key (`WWW-Authenticate: Bearer`)."),
    (404, "No such resource for this tenant (another tenant's id answers the same)."),
    (409, "Conflict with the current state, or the Idempotency-Key's first request is still running."),
    (413, "The body is larger than `http.max_body_bytes`."),
    (415, "The body is not `application/json`."),
    (422, "Refused by validation; `field` names the offending field."),
    (429, "Rate limited; retry after `Retry-After` seconds."),
    (503, "The store (Redis) is unreachable; nothing was changed. Retry after `Retry-After` seconds."),
];

struct Problems;

impl Modify for Problems {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        for (path, item) in doc.paths.paths.iter_mut() {
            let v1 = path.starts_with("/v1/");
            let ops =
                [(false, &mut item.get), (true, &mut item.post), (false, &mut item.patch), (false, &mut item.delete)];
            for (is_post, op) in ops {
                if let Some(op) = op.as_mut() {
                    complete(op, v1, is_post);
                }
            }
        }
    }
}

fn has_param(op: &Operation, place: ParameterIn) -> bool {
    op.parameters.iter().flatten().any(|p| p.parameter_in == place)
}

/// Adds the problem answers and the Idempotency-Key header that `op`'s shape implies.
fn complete(op: &mut Operation, v1: bool, is_post: bool) {
    let id = op.operation_id.clone().unwrap_or_default();
    let mut types: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
    let mut add = |status: u16, list: &[&'static str]| types.entry(status).or_default().extend_from_slice(list);
    if v1 {
        add(401, &["unauthorized"]);
        add(503, &["service-unavailable"]);
    }
    if op.request_body.is_some() {
        add(400, &["malformed-json"]);
        add(413, &["payload-too-large"]);
        add(415, &["unsupported-media-type"]);
        add(422, &["invalid-request"]);
    }
    if v1 && is_post {
        add(413, &["payload-too-large"]);
        add(422, &["invalid-request", "idempotency-key-reused"]);
        if id != "start_verification" {
            add(409, &["idempotency-key-in-use"]);
        }
        idempotency_header(op, id == "start_verification");
    }
    if has_param(op, ParameterIn::Path) {
        add(404, &["not-found"]);
    }
    if has_param(op, ParameterIn::Query) {
        add(422, &["invalid-request"]);
    }
    for (status, list) in problem_types(&id) {
        add(*status, list);
    }
    for (status, mut list) in types {
        list.sort_unstable();
        list.dedup();
        op.responses.responses.insert(status.to_string(), RefOr::T(problem_response(status, &list)));
    }
}

fn problem_response(status: u16, types: &[&str]) -> openapi::Response {
    let text = STATUS_TEXT.iter().find(|(s, _)| *s == status).map_or("Problem.", |(_, t)| t);
    let listed: Vec<String> = types.iter().map(|t| format!("`{PROBLEM_BASE}{t}`")).collect();
    let description = format!("{text} Problem `type`: {}.", listed.join(", "));
    let mut r = ResponseBuilder::new().description(description).content(
        "application/problem+json",
        ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
    );
    let integer = || HeaderBuilder::new().schema(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)));
    match status {
        429 | 503 => r = r.header("Retry-After", integer().description(Some("Seconds to wait")).build()),
        401 => {
            let string = ObjectBuilder::new().schema_type(Type::String);
            r = r.header("WWW-Authenticate", HeaderBuilder::new().schema(string).build());
        }
        _ => {}
    }
    r.build()
}

/// The header as the handlers check it: 1 to 255 visible ASCII characters.
fn idempotency_header(op: &mut Operation, names_the_verification: bool) {
    let description = if names_the_verification {
        "Same key and body: the same verification (201 again, `Idempotent-Replayed: true`); \
         same key, other body: 422."
    } else {
        "Same key and request: the first answer again (`Idempotent-Replayed: true`); same key, other \
         request: 422; while the first is still running: 409."
    };
    let schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(255))
        .pattern(Some("^[!-~]+$"));
    let param = ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(openapi::Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build();
    let params = op.parameters.get_or_insert_with(Vec::new);
    params.retain(|p| !p.name.eq_ignore_ascii_case("Idempotency-Key"));
    params.push(param);
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn operations() -> Vec<(String, String, Operation)> {
        let doc = ApiDoc::openapi();
        let mut out = Vec::new();
        for (path, item) in doc.paths.paths {
            for (m, op) in [("get", item.get), ("post", item.post), ("patch", item.patch), ("delete", item.delete)] {
                if let Some(op) = op {
                    out.push((m.to_string(), path.clone(), op));
                }
            }
        }
        out
    }

    #[test]
    fn every_operation_has_a_unique_id_and_a_summary() {
        let mut seen = HashSet::new();
        for (m, path, op) in operations() {
            let id = op.operation_id.clone().unwrap_or_default();
            assert!(seen.insert(id.clone()), "{m} {path}: operationId {id:?} is not unique");
            assert!(op.summary.as_deref().is_some_and(|s| !s.is_empty()), "{m} {path}: no summary");
        }
    }

    #[test]
    fn every_v1_operation_answers_401_and_503_as_problems() {
        for (m, path, op) in operations().into_iter().filter(|(_, p, _)| p.starts_with("/v1/")) {
            for status in ["401", "503"] {
                let Some(RefOr::T(r)) = op.responses.responses.get(status) else { panic!("{m} {path}: no {status}") };
                assert!(r.content.contains_key("application/problem+json"), "{m} {path} {status}");
            }
        }
    }

    #[test]
    fn json_bodies_document_400_413_415_422_and_posts_take_an_idempotency_key() {
        for (m, path, op) in operations() {
            if op.request_body.is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(op.responses.responses.contains_key(status), "{m} {path}: no {status}");
                }
            }
            if m == "post" && path.starts_with("/v1/") {
                assert!(op.parameters.iter().flatten().any(|p| p.name == "Idempotency-Key"), "{m} {path}");
            }
        }
    }

    #[test]
    fn served_document_names_the_public_address_and_requires_the_key() {
        let doc = document("https://verify.example.nl/");
        assert_eq!(doc.servers.unwrap()[0].url, "https://verify.example.nl");
        let json = serde_json::to_value(ApiDoc::openapi()).unwrap();
        assert_eq!(json["security"], serde_json::json!([{"api_key": []}]));
        assert_eq!(json["paths"]["/health/live"]["get"]["security"], serde_json::json!([{}]));
        assert!(!json["info"]["description"].as_str().unwrap().contains("methods 1 and 2"));
    }

    /// The committed `openapi.json` is what the service serves: regenerate it with
    /// `cargo run -- openapi > openapi.json` after changing the API.
    #[test]
    fn the_committed_document_is_the_served_one() {
        let committed: serde_json::Value =
            serde_json::from_str(include_str!("../../openapi.json")).expect("openapi.json is JSON");
        let served = super::served("http://127.0.0.1:8080");
        if committed != served {
            let _ = std::fs::write(std::env::temp_dir().join("served-openapi.json"), served.to_string());
        }
        assert!(committed == served, "openapi.json is stale: run `cargo run -q -- openapi > openapi.json`");
        assert_eq!(served["webhooks"].as_object().map(|w| w.len()), Some(crate::webhooks::EVENT_TYPES.len()));
    }
}
