//! `ApiJson<T>`: a JSON body extractor whose every failure is a problem+json `ApiError`.
//! Malformed JSON is a 400; JSON that breaks the schema is a 422 naming the field.

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::{StreamExt, future::LocalBoxFuture};
use serde::de::DeserializeOwned;

use crate::{error::ApiError, state::AppState};

/// `LARGE` bodies (the batch route) get `http.max_batch_body_bytes` instead of `max_body_bytes`.
pub struct ApiJson<T, const LARGE: bool = false>(pub T, pub web::Bytes);

impl<T: DeserializeOwned + 'static, const LARGE: bool> FromRequest for ApiJson<T, LARGE> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<web::Data<AppState>>().map_or(64 * 1024, |s| {
            if LARGE { s.settings.http.max_batch_body_bytes } else { s.settings.http.max_body_bytes }
        });
        let declared =
            req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
        let is_json = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > limit) {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| ApiError::MalformedJson(e.to_string()))?;
                if body.len() + chunk.len() > limit {
                    return Err(ApiError::PayloadTooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            let body = body.freeze();
            Ok(ApiJson(parse(&body)?, body))
        })
    }
}

/// Parses in two steps so that syntax and schema errors get different answers.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    if !value.is_object() {
        return Err(ApiError::invalid("", "the request body must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // An unknown or missing field is named by serde inside the message; lift it out.
        let field = if path == "." { named_field(&inner).unwrap_or_default() } else { path };
        ApiError::invalid(field, inner)
    })
}

fn named_field(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let len = msg[start..].find('`')?;
    Some(msg[start..start + len].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        a: u32,
        inner: Option<Inner>,
    }
    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        b: String,
    }

    fn field_of(body: &str) -> String {
        match parse::<T>(body.as_bytes()) {
            Err(ApiError::InvalidRequest { field, .. }) => field,
            other => panic!("expected invalid request, got {other:?}"),
        }
    }

    #[test]
    fn names_the_offending_field() {
        assert_eq!(field_of(r#"{"a":1,"zzz":2}"#), "zzz");
        assert_eq!(field_of(r#"{"inner":{"b":"x"}}"#), "a");
        assert_eq!(field_of(r#"{"a":"one"}"#), "a");
        assert_eq!(field_of(r#"{"a":1,"inner":{"b":7}}"#), "inner.b");
    }

    #[test]
    fn syntax_errors_are_malformed_json() {
        assert!(matches!(parse::<T>(b"{\"a\":"), Err(ApiError::MalformedJson(_))));
    }
}
