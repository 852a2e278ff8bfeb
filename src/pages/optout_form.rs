//! The body of a `POST /o/{token}`: our own form (urlencoded, with a CSRF value), or an RFC 8058
//! one-click POST from a mail client, which that RFC says SHOULD be `multipart/form-data`. Any
//! other body is refused before the handler runs, so it changes nothing.

use actix_multipart::Multipart;
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, error::PayloadError, web};
use futures_util::{StreamExt, future::LocalBoxFuture};

use super::common::PageError;
use crate::store::OptOutScope;

/// Both forms carry two short fields; anything larger is not one of them.
const LIMIT: usize = 4096;

#[derive(Debug, Default, serde::Deserialize)]
pub struct OptOutForm {
    pub csrf: Option<String>,
    /// `One-Click` in an RFC 8058 POST.
    #[serde(rename = "List-Unsubscribe")]
    pub one_click: Option<String>,
    /// `all`: every purpose of this tenant; anything else, the verification's purpose.
    pub scope: Option<String>,
}

impl OptOutForm {
    pub fn is_one_click(&self) -> bool {
        self.one_click.as_deref() == Some("One-Click")
    }

    /// What the person asked to stop. A one-click POST stops the purpose its message was about.
    pub fn scope(&self) -> OptOutScope {
        match self.scope.as_deref() {
            Some("all") => OptOutScope::All,
            _ => OptOutScope::Purpose,
        }
    }
}

impl FromRequest for OptOutForm {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let essence = req.mime_type().ok().flatten().map(|m| m.essence_str().to_ascii_lowercase());
        match essence.as_deref() {
            Some("application/x-www-form-urlencoded") => {
                let form = web::Form::<OptOutForm>::from_request(req, payload);
                Box::pin(async move { form.await.map(web::Form::into_inner).map_err(|_| PageError::invalid(false)) })
            }
            Some("multipart/form-data") => {
                let parts = Multipart::new(req.headers(), capped(payload.take()));
                Box::pin(from_multipart(parts))
            }
            _ => Box::pin(async { Err(PageError::UnsupportedBody) }),
        }
    }
}

/// The payload, ended with an overflow error once it passes `LIMIT`, so a huge body is never read
/// to its end.
fn capped(payload: Payload) -> impl futures_util::Stream<Item = Result<web::Bytes, PayloadError>> + 'static {
    let mut seen = 0usize;
    payload.map(move |chunk| {
        let chunk = chunk?;
        seen += chunk.len();
        if seen > LIMIT { Err(PayloadError::Overflow) } else { Ok(chunk) }
    })
}

async fn from_multipart(mut parts: Multipart) -> Result<OptOutForm, PageError> {
    let bad = || PageError::invalid(false);
    let mut form = OptOutForm::default();
    while let Some(field) = parts.next().await {
        let mut field = field.map_err(|_| bad())?;
        let name = field.name().map(str::to_string);
        let value = field.bytes(LIMIT).await.map_err(|_| bad())?.map_err(|_| bad())?;
        let value = String::from_utf8(value.to_vec()).map_err(|_| bad())?;
        match name.as_deref() {
            Some("csrf") => form.csrf = Some(value),
            Some("List-Unsubscribe") => form.one_click = Some(value),
            Some("scope") => form.scope = Some(value),
            _ => {}
        }
    }
    Ok(form)
}
