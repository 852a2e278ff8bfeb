//! Consumer pages: server-rendered, no JavaScript, CSRF on every form. A GET or HEAD never
//! changes a verification: link scanners and chat previews fetch links on their own.

mod code;
mod common;
mod confirm;
mod consents;
mod optout;
mod optout_form;
mod receipt;

use actix_web::{HttpResponse, guard, middleware::DefaultHeaders, web};

pub use common::PageError;

use crate::state::AppState;

/// The security headers every page response carries, errors included (docs/CONSUMERS.md).
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
            .app_data(form.clone())
            .route("/{token}", web::route().guard(get_or_head()).to(optout::show))
            .route("/{token}", web::post().to(optout::submit)),
    )
    .service(
        web::scope("/v")
            .wrap(page_headers())
            .app_data(form.clone())
            .route("/{token}", web::route().guard(get_or_head()).to(code::show))
            .route("/{token}", web::post().to(code::submit)),
    )
    .service(
        web::scope("/r").wrap(page_headers()).route("/{receipt}", web::route().guard(get_or_head()).to(receipt::show)),
    )
    .service(web::scope("/t/{tenant}/consents").wrap(page_headers()).app_data(form.clone()).configure(consents::routes))
    .route("/static/app.css", web::get().to(stylesheet))
    .route("/static/t/{tenant}.css", web::get().to(tenant_stylesheet));
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../../static/app.css"))
}

/// The tenant's accent colour, as CSS: pages carry no inline style.
async fn tenant_stylesheet(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let colour = state.tenants.by_id(&path).and_then(|t| t.branding.accent_color.clone());
    match colour {
        Some(c) => HttpResponse::Ok()
            .content_type("text/css; charset=utf-8")
            .insert_header(("Cache-Control", "public, max-age=300"))
            .body(format!(":root {{ --accent: {c}; }}\n")),
        None => HttpResponse::NotFound().finish(),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::contrast;

    /// Every text/background pair in static/app.css reaches WCAG AA (4.5:1).
    #[test]
    fn stylesheet_colours_reach_aa_contrast() {
        let css = include_str!("../../static/app.css");
        let pairs = [
            ("#1a1a1a", "#ffffff"), // body text
            ("#4a4a4a", "#ffffff"), // small print
            ("#0b5394", "#ffffff"), // links, the "no" button, header text on accent (reversed)
            ("#0b5394", "#f3f6fa"), // the consent quote's border next to its text background
            ("#1a1a1a", "#f3f6fa"), // consent text
            ("#b00020", "#ffffff"), // errors
        ];
        for (fg, bg) in pairs {
            assert!(css.contains(fg) || css.contains(bg), "{fg}/{bg} not in the stylesheet any more");
            let r = contrast(fg, bg).unwrap();
            assert!(r >= 4.5, "{fg} on {bg}: {r:.2}:1");
        }
    }
}
