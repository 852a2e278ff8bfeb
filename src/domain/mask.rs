//! Masked forms that may appear in responses, pages and logs.

/// `+31612345678` becomes `+31 6** *** *78`: country code and first national digit, last two.
pub fn mask_phone(e164: &str) -> String {
    let digits: Vec<char> = e164.trim_start_matches('+').chars().collect();
    if digits.len() < 6 {
        return "***".into();
    }
    let cc_len = if digits.starts_with(&['3', '1']) { 2 } else { country_code_len(&digits) };
    let cc: String = digits[..cc_len].iter().collect();
    let national = &digits[cc_len..];
    let n = national.len();
    let mut out = String::new();
    for (i, d) in national.iter().enumerate() {
        let c = if i == 0 || i >= n - 2 { *d } else { '*' };
        out.push(c);
    }
    // Group as 1-3-rest for readability: "6** *** *78".
    let (a, rest) = out.split_at(out.len().min(3));
    let (b, c) = rest.split_at(rest.len().min(3));
    format!("+{cc} {a} {b} {c}").trim_end().to_string()
}

fn country_code_len(digits: &[char]) -> usize {
    // E.164 country codes are 1-3 digits; 1 and 7 are the only one-digit codes.
    match digits[0] {
        '1' | '7' => 1,
        _ => 2,
    }
}

/// `jan.jansen@example.nl` becomes `j***n@e***e.nl`.
pub fn mask_email(email: &str) -> String {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return "***".into();
    };
    let local_masked = mask_word(local);
    let (host, tld) = domain.rsplit_once('.').unwrap_or((domain, ""));
    let host_masked = mask_word(host);
    if tld.is_empty() { format!("{local_masked}@{host_masked}") } else { format!("{local_masked}@{host_masked}.{tld}") }
}

fn mask_word(w: &str) -> String {
    let chars: Vec<char> = w.chars().collect();
    match chars.len() {
        0 => String::new(),
        1 | 2 => format!("{}***", chars[0]),
        n => format!("{}***{}", chars[0], chars[n - 1]),
    }
}

/// Provider error texts can quote the recipient ("The 'To' number +31612345678 is not a valid
/// phone number"): anything that looks like a phone number (7 or more digits, separators
/// allowed) or an e-mail address is replaced before such a text is kept or shown.
pub fn redact_contacts(text: &str) -> String {
    let words: Vec<String> = text
        .split(' ')
        .map(|w| match w.trim_matches(|c: char| "<>\"'(),;:[]".contains(c)) {
            core if core.contains('@') => w.replacen(core, "[address]", 1),
            _ => w.to_string(),
        })
        .collect();
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    for c in words.join(" ").chars() {
        if c.is_ascii_digit() || " +-./".contains(c) {
            run.push(c);
        } else {
            flush_number(&mut run, &mut out);
            out.push(c);
        }
    }
    flush_number(&mut run, &mut out);
    out
}

/// Writes a run of digits and separators: as `[number]` when it holds enough digits to be one.
fn flush_number(run: &mut String, out: &mut String) {
    let digits = run.chars().filter(char::is_ascii_digit).count();
    match (run.find(|c: char| c.is_ascii_digit() || c == '+'), run.rfind(|c: char| c.is_ascii_digit())) {
        (Some(start), Some(end)) if digits >= 7 => {
            out.push_str(&run[..start]);
            out.push_str("[number]");
            out.push_str(&run[end + 1..]);
        }
        _ => out.push_str(run),
    }
    run.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_texts_lose_numbers_and_addresses_but_keep_codes() {
        assert_eq!(
            redact_contacts("twilio 21211 (HTTP 400): The 'To' number +31612345678 is not a valid phone number."),
            "twilio 21211 (HTTP 400): The 'To' number [number] is not a valid phone number."
        );
        assert_eq!(redact_contacts("to 06-1234 5678, retry"), "to [number], retry");
        assert_eq!(redact_contacts("+31 (0)6 1234 5678 (06-12345678)"), "+31 (0)[number] ([number])");
        assert_eq!(
            redact_contacts("smtp: 550 <jan.jansen@example.nl>: no such user"),
            "smtp: 550 <[address]>: no such user"
        );
        assert_eq!(redact_contacts("cm 3: Not delivered"), "cm 3: Not delivered");
    }

    #[test]
    fn phone_masks_all_but_prefix_and_last_two() {
        assert_eq!(mask_phone("+31612345678"), "+31 6** *** *78");
        assert!(!mask_phone("+31612345678").contains("123456"));
    }

    #[test]
    fn email_masks_local_part_and_host() {
        assert_eq!(mask_email("jan.jansen@example.nl"), "j***n@e***e.nl");
        assert_eq!(mask_email("a@b.nl"), "a***@b***.nl");
    }
}
