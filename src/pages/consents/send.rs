//! The message with the code that opens the consents page. It is sent from the request's own
//! process, in the background, so the page answers as fast whether or not a code goes out.

use crate::{
    channels::Message,
    config::TenantSettings,
    domain::{Channel, Locale, Method},
    state::AppState,
    store::Holder,
};

/// What the SMS or WhatsApp message says: the code, whose it is, and not to share it.
pub fn text(brand: &str, code: &str, minutes: u64, en: bool) -> String {
    if en {
        format!(
            "{code} is your code to see and manage your consents with {brand}. Valid {minutes} minutes. Do not share it."
        )
    } else {
        format!(
            "{code} is uw code om uw toestemmingen bij {brand} te bekijken en te beheren. {minutes} minuten geldig. Deel deze code met niemand."
        )
    }
}

/// The e-mail's subject, when the page was opened with an address.
pub fn subject(brand: &str, en: bool) -> String {
    if en {
        format!("Your code for your consents with {brand}")
    } else {
        format!("Uw code voor uw toestemmingen bij {brand}")
    }
}

/// Sends `code` to the number by the tenant's channel for the page, or to the e-mail address.
/// A failure is logged (without the address or the code) and the person can ask again.
pub fn spawn(state: &AppState, tenant: &TenantSettings, holder: Holder, to: String, code: String, en: bool) {
    let channel = match holder {
        Holder::Phone => tenant.self_service.channel,
        Holder::Email => Channel::Email,
    };
    let Some(transport) = state.transports.for_channel(channel).cloned() else {
        tracing::warn!(tenant = %tenant.id, channel = channel.as_str(), "no transport for the consents page's codes");
        return;
    };
    let brand = tenant.branding.display_name.clone().unwrap_or_else(|| tenant.name.clone());
    let minutes = state.settings.self_service.code_ttl_seconds.div_ceil(60);
    let message = Message {
        verification_id: "self-service".into(),
        channel,
        method: Method::Code,
        locale: if en { Locale::En } else { Locale::Nl },
        to,
        subject: (channel == Channel::Email).then(|| subject(&brand, en)),
        text: match channel {
            Channel::Email => text(&brand, &code, minutes, en),
            _ => crate::channels::gsm::to_gsm_friendly(&text(&brand, &code, minutes, en)),
        },
        html: None,
        headers: Vec::new(),
        code,
        link_token: String::new(),
        whatsapp_template: None,
        send_number: 1,
        from_name: brand,
        reply_to: tenant.email_reply_to.clone(),
    };
    let tenant_id = tenant.id.clone();
    tokio::spawn(async move {
        let report = transport.send(&message).await;
        match report.result {
            Ok(r) => tracing::info!(tenant = %tenant_id, provider = r.provider, "consents-page code sent"),
            Err(e) => tracing::warn!(tenant = %tenant_id, error = e.kind(), "consents-page code not sent"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_message_fits_one_sms_and_names_the_brand() {
        for en in [false, true] {
            let t = text("Acme Energie", "123456", 10, en);
            assert!(t.starts_with("123456 ") && t.contains("Acme Energie"), "{t}");
            assert_eq!(crate::channels::gsm::segments(&t), (crate::channels::gsm::Encoding::Gsm7, 1), "{t}");
        }
    }
}
