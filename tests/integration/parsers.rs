//! Property tests: the parsers never panic and accept exactly their language.

use optin_verify::domain::{Code, Email, LinkToken, PhoneNumber, PhonePolicy, VerificationId};
use proptest::prelude::*;

fn nl() -> Vec<String> {
    vec!["NL".to_string()]
}

proptest! {
    #[test]
    fn phone_parse_never_panics_and_yields_e164(s in ".{0,40}") {
        let countries = nl();
        let policy = PhonePolicy { allowed_countries: &countries, require_mobile: false };
        if let Ok(p) = PhoneNumber::parse(&s, &policy) {
            prop_assert!(p.e164().starts_with("+31"));
            prop_assert!(p.e164()[1..].bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn any_dutch_mobile_parses(rest in "[1-58][0-9]{7}") {
        let countries = nl();
        let policy = PhonePolicy { allowed_countries: &countries, require_mobile: true };
        let p = PhoneNumber::parse(&format!("06{rest}"), &policy).unwrap();
        prop_assert_eq!(p.e164(), format!("+316{rest}"));
    }

    #[test]
    fn code_parse_accepts_only_six_digits(s in ".{0,12}") {
        if let Ok(c) = Code::parse(&s, 6) {
            prop_assert_eq!(c.expose().len(), 6);
            prop_assert!(c.expose().bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn email_parse_never_panics(s in ".{0,80}") {
        if let Ok(e) = Email::parse(&s) {
            prop_assert!(e.as_str().contains('@'));
        }
    }

    #[test]
    fn token_and_id_parse_never_panic(s in "[A-Za-z0-9_-]{0,50}") {
        if let Some(t) = LinkToken::parse(&s, 16) {
            prop_assert_eq!(t.expose(), s.as_str());
        }
        let _ = VerificationId::parse(&s, 16);
    }
}
