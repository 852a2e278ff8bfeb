//! askama templates for SMS, WhatsApp and email, in Dutch and English.

use askama::Template;

use crate::{
    config::LocaleTexts,
    domain::{Channel, Code, Context, Locale, Method, clock, mask_phone, spoken_date},
};

use super::{ChannelError, Message, gsm};

mod custom;

/// Everything a message needs; the caller derived the code and links from the seed.
pub struct MessageInputs<'a> {
    pub verification_id: &'a str,
    /// Which send of the verification this is: 1, 2, ...
    pub send_number: u32,
    pub method: Method,
    pub channel: Channel,
    pub locale: Locale,
    pub to: &'a str,
    pub phone: &'a str,
    pub brand: &'a str,
    pub context: &'a Context,
    pub code: &'a Code,
    pub confirm_url: &'a str,
    pub confirm_token: &'a str,
    /// For `method: code`: the hosted code page (`/v/{token}`); empty otherwise.
    pub code_page_url: &'a str,
    pub optout_url: &'a str,
    pub valid_minutes: i64,
    pub reply_to: Option<&'a str>,
    /// The tenant's own texts for this language, if it set any.
    pub texts: Option<&'a LocaleTexts>,
    /// For `method: call`: the announced window and number.
    pub call: Option<CallInfo<'a>>,
    /// The number the tenant calls from (its first registered caller number), if it has one.
    pub caller_number: Option<&'a str>,
}

/// What an announcement says about the coming call.
pub struct CallInfo<'a> {
    pub caller_number: &'a str,
    pub start: chrono::DateTime<chrono::Utc>,
    pub end: chrono::DateTime<chrono::Utc>,
}

/// The announcement of a verification call (ACM method 3).
struct Announcement<'a> {
    en: bool,
    brand: &'a str,
    caller: &'a str,
    caller_number: &'a str,
    phone_masked: String,
    purpose: &'a str,
    day: String,
    from: String,
    until: String,
    optout_url: &'a str,
}

#[derive(Template)]
#[template(path = "sms/announce.txt")]
struct SmsAnnounce<'a>(&'a Announcement<'a>);

#[derive(Template)]
#[template(path = "email/announce_subject.txt")]
struct AnnounceSubject<'a>(&'a Announcement<'a>);

#[derive(Template)]
#[template(path = "email/announce.txt")]
struct AnnounceText<'a>(&'a Announcement<'a>);

#[derive(Template)]
#[template(path = "email/announce.html")]
struct AnnounceHtml<'a>(&'a Announcement<'a>);

macro_rules! deref_to {
    ($target:ident: $($t:ident),+) => {$(
        impl<'a> std::ops::Deref for $t<'a> {
            type Target = $target<'a>;
            fn deref(&self) -> &Self::Target {
                self.0
            }
        }
    )+};
}
deref_to!(Announcement: SmsAnnounce, AnnounceSubject, AnnounceText, AnnounceHtml);

fn announcement(
    i: &MessageInputs<'_>,
    c: &CallInfo<'_>,
) -> Result<(Option<String>, String, Option<String>), ChannelError> {
    let en = i.locale == Locale::En;
    let a = Announcement {
        en,
        brand: i.brand,
        caller: &i.context.caller,
        caller_number: c.caller_number,
        phone_masked: mask_phone(i.phone),
        purpose: &i.context.purpose.text,
        day: spoken_date(c.start, en),
        from: clock(c.start),
        until: clock(c.end),
        optout_url: i.optout_url,
    };
    Ok(match i.channel {
        Channel::Email => (
            Some(AnnounceSubject(&a).render()?.trim().to_string()),
            AnnounceText(&a).render()?,
            Some(AnnounceHtml(&a).render()?),
        ),
        _ => (None, SmsAnnounce(&a).render()?, None),
    })
}

#[derive(Template)]
#[template(path = "sms/code.txt")]
struct SmsCode<'a> {
    en: bool,
    brand: &'a str,
    caller_number: Option<&'a str>,
    code: &'a str,
    minutes: i64,
    confirm_url: &'a str,
    optout_url: &'a str,
}

#[derive(Template)]
#[template(path = "sms/link.txt")]
struct SmsLink<'a> {
    en: bool,
    brand: &'a str,
    caller_number: Option<&'a str>,
    purpose: &'a str,
    code: &'a str,
    confirm_url: &'a str,
    optout_url: &'a str,
}

/// One struct feeds subject, text and HTML so the three parts cannot disagree.
struct EmailParts<'a> {
    en: bool,
    is_code: bool,
    brand: &'a str,
    caller: &'a str,
    caller_number: Option<&'a str>,
    purpose: &'a str,
    phone_masked: String,
    code: &'a str,
    minutes: i64,
    confirm_url: &'a str,
    code_page_url: &'a str,
    optout_url: &'a str,
}

#[derive(Template)]
#[template(path = "email/subject.txt")]
struct EmailSubject<'a>(&'a EmailParts<'a>);

#[derive(Template)]
#[template(path = "email/body.txt")]
struct EmailText<'a>(&'a EmailParts<'a>);

#[derive(Template)]
#[template(path = "email/body.html")]
struct EmailHtml<'a>(&'a EmailParts<'a>);

deref_to!(EmailParts: EmailSubject, EmailText, EmailHtml);

pub fn render(i: &MessageInputs<'_>) -> Result<Message, ChannelError> {
    let en = i.locale == Locale::En;
    let (subject, text, html) = match (&i.call, i.channel) {
        (Some(c), _) => announcement(i, c)?,
        (None, Channel::Sms | Channel::Whatsapp) => {
            // The caller number goes in where there is room: an SMS that would need a third
            // segment with it goes without, before its purpose is shortened.
            let with = short_text(i, en, i.caller_number)?;
            let fits = i.channel != Channel::Sms || gsm::segments(&gsm::to_gsm_friendly(with.trim())).1 <= 2;
            let text = if fits { with } else { short_text(i, en, None)? };
            (None, text, None)
        }
        (None, Channel::Email) => {
            let parts = EmailParts {
                en,
                is_code: i.method == Method::Code,
                brand: i.brand,
                caller: &i.context.caller,
                caller_number: i.caller_number,
                purpose: &i.context.purpose.text,
                phone_masked: mask_phone(i.phone),
                code: i.code.expose(),
                minutes: i.valid_minutes,
                confirm_url: i.confirm_url,
                code_page_url: i.code_page_url,
                optout_url: i.optout_url,
            };
            let subject = EmailSubject(&parts).render()?;
            (Some(subject.trim().to_string()), EmailText(&parts).render()?, Some(EmailHtml(&parts).render()?))
        }
    };
    let headers = match i.channel {
        Channel::Email => vec![
            ("List-Unsubscribe".to_string(), format!("<{}>", i.optout_url)),
            ("List-Unsubscribe-Post".to_string(), "List-Unsubscribe=One-Click".to_string()),
        ],
        _ => Vec::new(),
    };
    let (subject, text, html) = custom::apply(i, subject, text, html);
    let text = match i.channel {
        Channel::Sms => shorten_to_two_segments(gsm::to_gsm_friendly(text.trim()), i),
        _ => text.trim().to_string(),
    };
    Ok(Message {
        headers,
        verification_id: i.verification_id.to_string(),
        send_number: i.send_number,
        channel: i.channel,
        method: i.method,
        locale: i.locale,
        to: i.to.to_string(),
        subject,
        text,
        html,
        code: i.code.expose().to_string(),
        link_token: i.confirm_token.to_string(),
        whatsapp_template: i.texts.and_then(|t| {
            if i.method == Method::Link { t.whatsapp_link_template.clone() } else { t.whatsapp_code_template.clone() }
        }),
        from_name: i.brand.to_string(),
        reply_to: i.reply_to.map(str::to_string),
    })
}

/// The SMS (or WhatsApp fallback) text of a code or link message.
fn short_text(i: &MessageInputs<'_>, en: bool, caller_number: Option<&str>) -> Result<String, ChannelError> {
    Ok(match i.method {
        Method::Code => SmsCode {
            en,
            brand: i.brand,
            caller_number,
            code: i.code.expose(),
            minutes: i.valid_minutes,
            confirm_url: i.confirm_url,
            optout_url: i.optout_url,
        }
        .render()?,
        Method::Link | Method::Call => SmsLink {
            en,
            brand: i.brand,
            caller_number,
            purpose: &i.context.purpose.text,
            code: i.code.expose(),
            confirm_url: i.confirm_url,
            optout_url: i.optout_url,
        }
        .render()?,
    })
}

/// Keeps an SMS within two segments: the purpose, the one free-form part, gives way first.
fn shorten_to_two_segments(text: String, i: &MessageInputs<'_>) -> String {
    if gsm::segments(&text).1 <= 2 {
        return text;
    }
    let purpose = gsm::to_gsm_friendly(&i.context.purpose.text);
    if purpose.is_empty() || !text.contains(&purpose) {
        return text;
    }
    let chars: Vec<char> = purpose.chars().collect();
    for keep in (0..chars.len()).rev().step_by(5) {
        let short = if keep == 0 { String::new() } else { chars[..keep].iter().collect::<String>() + "..." };
        let candidate = text.replacen(&purpose, &short, 1);
        if gsm::segments(&candidate).1 <= 2 {
            return candidate;
        }
    }
    text
}
