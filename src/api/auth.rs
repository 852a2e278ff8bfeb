//! `Authorization: Bearer <key>` to a tenant. Keys are compared by their SHA-256 only.

use std::{future::Ready, sync::Arc};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use crate::{config::TenantSettings, domain::ApiKeyHash, error::ApiError, state::AppState};

/// The tenant the request's API key belongs to.
pub struct AuthTenant(pub Arc<TenantSettings>);

impl FromRequest for AuthTenant {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<AuthTenant, ApiError> {
    let state = req.app_data::<web::Data<AppState>>().ok_or_else(|| ApiError::internal("no application state"))?;
    let header = req.headers().get("authorization").and_then(|v| v.to_str().ok()).ok_or(ApiError::Unauthorized)?;
    let (scheme, key) = header.split_once(' ').ok_or(ApiError::Unauthorized)?;
    if !scheme.eq_ignore_ascii_case("bearer") || key.trim().is_empty() {
        return Err(ApiError::Unauthorized);
    }
    state.tenants.by_key_hash(&ApiKeyHash::of(key.trim())).map(AuthTenant).ok_or(ApiError::Unauthorized)
}
