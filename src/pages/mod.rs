//! Consumer pages: server-rendered, no JavaScript, CSRF on every form. A GET or HEAD never
//! changes a verification: link scanners and chat previews fetch links on their own.

mod common;
mod confirm;
mod optout;

use actix_web::{guard, middleware::DefaultHeaders, web};

pub use common::PageError;

/// Headers of DESIGN.md §5 on every page response, errors included.
fn page_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'self'; img-src 'self' https:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("Cache-Control", "no-store"))
        .add(("X-Frame-Options", "DENY"))
        .add(("X-Content-Type-Options", "nosniff"))
}

fn get_or_head() -> guard::AnyGuard {
    guard::Any(guard::Get()).or(guard::Head())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    let form = web::FormConfig::default().limit(4096).error_handler(|_, _| PageError::invalid(false).into());
    cfg.service(
        web::scope("/c")
            .wrap(page_headers())
            .app_data(form.clone())
            .route("/{token}", web::route().guard(get_or_head()).to(confirm::show))
            .route("/{token}/confirm", web::post().to(confirm::confirm))
            .route("/{token}/decline", web::post().to(confirm::decline)),
    )
    .service(
        web::scope("/o")
            .wrap(page_headers())
            .app_data(form)
            .route("/{token}", web::route().guard(get_or_head()).to(optout::show))
            .route("/{token}", web::post().to(optout::submit)),
    )
    .route("/static/app.css", web::get().to(stylesheet));
}

async fn stylesheet() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../../static/app.css"))
}
