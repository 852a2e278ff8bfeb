//! `Idempotency-Key` on POSTs that act on existing things: the same key and request replay the
//! first answer; the same key with another request is a 422; while the first is running, 409.

use actix_web::{
    HttpMessage, HttpRequest, HttpResponse, ResponseError,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{Method, StatusCode},
    middleware::Next,
    web,
};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::{domain::ApiKeyHash, error::ApiError, state::AppState, store::IdemClaim};

/// The header, checked, or `None`.
pub fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(v) = req.headers().get("idempotency-key") else { return Ok(None) };
    let s = v.to_str().map_err(|_| ApiError::invalid("Idempotency-Key", "must be visible ASCII"))?;
    if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid("Idempotency-Key", "must be 1 to 255 visible ASCII characters"));
    }
    Ok(Some(s.to_string()))
}

/// Middleware for every `/v1` POST except the batch, which is idempotent by its own design
/// (the key names the batch and each item's verification, so its answer need not be kept).
/// Answers are kept for replays; a 5xx releases the key. A start also derives its id from the
/// key, so a crash between the create and keeping the answer still replays the same one.
pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let applies =
        req.method() == Method::POST && req.path().starts_with("/v1/") && req.path() != "/v1/verifications/batch";
    let key = match idempotency_key(req.request()) {
        Ok(Some(k)) if applies => k,
        Ok(_) => return Ok(next.call(req).await?.map_into_boxed_body()),
        Err(e) => return Ok(req.into_response(e.error_response())),
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let tenant = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .and_then(|k| state.tenants.by_key_hash(&ApiKeyHash::of(k.trim())));
    // Without a valid key the handler answers 401; nothing to remember.
    let Some(tenant) = tenant else { return Ok(next.call(req).await?.map_into_boxed_body()) };
    let limit = state.settings.http.max_body_bytes;
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > limit {
            return Ok(req.into_response(ApiError::PayloadTooLarge { limit }.error_response()));
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    let key_hash = hex::encode(Sha256::digest(key.as_bytes()));
    let mut h = Sha256::new();
    h.update(req.method().as_str().as_bytes());
    h.update(b" ");
    h.update(req.path().as_bytes());
    h.update(b"\n");
    h.update(&body);
    let request_hash = hex::encode(h.finalize());
    let claim = match state.store.idem_begin(&tenant.id, &key_hash, &request_hash).await {
        Ok(c) => c,
        Err(e) => return Ok(req.into_response(ApiError::from(e).error_response())),
    };
    match claim {
        IdemClaim::Mismatch => return Ok(req.into_response(ApiError::IdempotencyKeyReused.error_response())),
        IdemClaim::Running => return Ok(req.into_response(ApiError::IdempotencyInProgress.error_response())),
        IdemClaim::Done { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let ct = if status.is_success() { "application/json" } else { "application/problem+json" };
            let resp =
                HttpResponse::build(status).content_type(ct).insert_header(("Idempotent-Replayed", "true")).body(body);
            return Ok(req.into_response(resp));
        }
        IdemClaim::New => {}
    }
    req.set_payload(actix_web::dev::Payload::from(body));
    let res = next.call(req).await?;
    let status = res.status();
    let (req, res) = res.into_parts();
    let (head, resp_body) = res.into_parts();
    let bytes = actix_web::body::to_bytes(resp_body).await.unwrap_or_default();
    let answer = (!status.is_server_error()).then(|| (status.as_u16(), String::from_utf8_lossy(&bytes).to_string()));
    if let Err(e) = state
        .store
        .idem_finish(&tenant.id, &key_hash, &request_hash, answer.as_ref().map(|(s, b)| (*s, b.as_str())))
        .await
    {
        tracing::warn!(error = %e, "idempotency answer not kept");
    }
    Ok(ServiceResponse::new(req, head.set_body(bytes).map_into_boxed_body()))
}
