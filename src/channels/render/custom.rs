//! A tenant's own texts, from config, in place of the built-in templates.

use crate::domain::{Channel, Method};

use super::MessageInputs;

fn fill(template: &str, i: &MessageInputs<'_>) -> String {
    template
        .replace("{brand}", i.brand)
        .replace("{code}", i.code.expose())
        .replace("{link}", i.confirm_url)
        .replace("{code_page}", i.code_page_url)
        .replace("{optout}", i.optout_url)
        .replace("{purpose}", &i.context.purpose.text)
        .replace("{minutes}", &i.valid_minutes.to_string())
}

/// Plain text as a minimal HTML part: escaped, paragraphs kept.
fn as_html(text: &str) -> String {
    let escaped = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let paragraphs: String = escaped.split("\n\n").map(|p| format!("<p>{}</p>\n", p.replace('\n', "<br>\n"))).collect();
    format!("<!doctype html>\n<html><head><meta charset=\"utf-8\"></head><body>\n{paragraphs}</body></html>\n")
}

/// Replaces subject, text and HTML where the tenant configured its own; announcements keep ours.
pub fn apply(
    i: &MessageInputs<'_>,
    subject: Option<String>,
    text: String,
    html: Option<String>,
) -> (Option<String>, String, Option<String>) {
    let Some(t) = i.texts.filter(|_| i.call.is_none()) else { return (subject, text, html) };
    let link = i.method == Method::Link;
    match i.channel {
        Channel::Sms | Channel::Whatsapp => {
            let own = if link { &t.sms_link } else { &t.sms_code };
            (subject, own.as_deref().map_or(text, |o| fill(o, i)), html)
        }
        Channel::Email => {
            let (own_subject, own_text) = if link {
                (&t.email_link_subject, &t.email_link_text)
            } else {
                (&t.email_code_subject, &t.email_code_text)
            };
            let subject = own_subject.as_deref().map(|s| fill(s, i)).or(subject);
            match own_text {
                Some(body) => {
                    let body = fill(body, i);
                    let html = as_html(&body);
                    (subject, body, Some(html))
                }
                None => (subject, text, html),
            }
        }
    }
}
