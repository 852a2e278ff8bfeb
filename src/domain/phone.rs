//! E.164 phone numbers that passed the anti-SMS-pumping rules.

use phonenumber::{Mode, Type, country};

/// Why a number was refused; each maps to its own problem `type`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("not a valid phone number")]
    Invalid,
    #[error("numbers from this country are not allowed for this tenant")]
    CountryNotAllowed,
    #[error("this channel needs a mobile number")]
    NotMobile,
    #[error("premium-rate and shared-cost numbers are refused")]
    Premium,
}

/// What a tenant and a channel accept.
pub struct PhonePolicy<'a> {
    pub allowed_countries: &'a [String],
    pub require_mobile: bool,
}

/// A valid number in E.164 form. Redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses international (`+31...`) or Dutch national (`06...`) notation.
    pub fn parse(input: &str, policy: &PhonePolicy<'_>) -> Result<Self, PhoneError> {
        Self::parse_with(input, Some(policy.allowed_countries), policy.require_mobile)
    }

    /// Like [`PhoneNumber::parse`] but for any country (withdrawals are never refused for it).
    pub fn parse_any_country(input: &str, policy: &PhonePolicy<'_>) -> Result<Self, PhoneError> {
        Self::parse_with(input, None, policy.require_mobile)
    }

    fn parse_with(input: &str, countries: Option<&[String]>, require_mobile: bool) -> Result<Self, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() || trimmed.len() > 32 {
            return Err(PhoneError::Invalid);
        }
        let parsed = phonenumber::parse(Some(country::Id::NL), trimmed).map_err(|_| PhoneError::Invalid)?;
        // For a national number without kept leading zeros (the usual case), `is_valid()` is
        // exactly "has metadata and a known type", but it ran the type's regexes a second time
        // (a start's profile had phone parsing at ~5% of the process). With kept zeros
        // (`+31000612345678`), `is_valid()` checks the digits as typed and the type does not:
        // ask it, or such a number would pass as an alias of `+31612345678`.
        let db = &phonenumber::metadata::DATABASE;
        let meta = parsed.metadata(db).ok_or(PhoneError::Invalid)?;
        let kind = parsed.number_type(db);
        let valid = if parsed.national().zeros() == 0 { kind != Type::Unknown } else { parsed.is_valid() };
        if !valid {
            return Err(PhoneError::Invalid);
        }
        let region: country::Id = meta.id().parse().map_err(|_| PhoneError::Invalid)?;
        if let Some(allowed) = countries
            && !allowed.iter().any(|c| c.parse::<country::Id>().ok() == Some(region))
        {
            return Err(PhoneError::CountryNotAllowed);
        }
        if matches!(kind, Type::PremiumRate | Type::SharedCost) {
            return Err(PhoneError::Premium);
        }
        if require_mobile && !matches!(kind, Type::Mobile | Type::FixedLineOrMobile) {
            return Err(PhoneError::NotMobile);
        }
        Ok(Self(parsed.format().mode(Mode::E164).to_string()))
    }

    /// Trusted E.164 text read back from our own store.
    pub fn from_stored(e164: String) -> Self {
        Self(e164)
    }

    pub fn e164(&self) -> &str {
        &self.0
    }

    pub fn masked(&self) -> String {
        super::mask_phone(&self.0)
    }
}

impl std::fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nl(mobile: bool) -> PhonePolicy<'static> {
        static NL: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| vec!["NL".to_string()]);
        PhonePolicy { allowed_countries: &NL, require_mobile: mobile }
    }

    #[test]
    fn dutch_mobile_in_any_notation_becomes_e164() {
        for input in ["+31612345678", "0612345678", "06-12345678", "+31 6 1234 5678"] {
            assert_eq!(PhoneNumber::parse(input, &nl(true)).unwrap().e164(), "+31612345678", "{input}");
        }
    }

    #[test]
    fn landline_is_refused_for_sms_but_fine_otherwise() {
        assert_eq!(PhoneNumber::parse("+31201234567", &nl(true)), Err(PhoneError::NotMobile));
        assert!(PhoneNumber::parse("+31201234567", &nl(false)).is_ok());
    }

    #[test]
    fn foreign_premium_and_garbage_are_refused() {
        assert_eq!(PhoneNumber::parse("+4915123456789", &nl(true)), Err(PhoneError::CountryNotAllowed));
        assert_eq!(PhoneNumber::parse("+31900123456", &nl(false)), Err(PhoneError::Premium));
        assert_eq!(PhoneNumber::parse("hello", &nl(false)), Err(PhoneError::Invalid));
        assert_eq!(PhoneNumber::parse("+3161234", &nl(false)), Err(PhoneError::Invalid));
        assert_eq!(PhoneNumber::parse("", &nl(false)), Err(PhoneError::Invalid));
    }

    #[test]
    fn any_country_still_refuses_garbage_and_premium() {
        let any = PhonePolicy { allowed_countries: &[], require_mobile: false };
        assert_eq!(PhoneNumber::parse_any_country("+4915123456789", &any).unwrap().e164(), "+4915123456789");
        assert_eq!(PhoneNumber::parse_any_country("+31900123456", &any), Err(PhoneError::Premium));
        assert_eq!(PhoneNumber::parse_any_country("nope", &any), Err(PhoneError::Invalid));
    }

    /// The checks as the crate spells them (`is_valid`, `country().id()`, `number_type`), which
    /// `parse_with` asks in one pass: the two must agree on every input.
    fn by_the_crates_own_checks(input: &str, countries: Option<&[String]>, mobile: bool) -> Result<String, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() || trimmed.len() > 32 {
            return Err(PhoneError::Invalid);
        }
        let parsed = phonenumber::parse(Some(country::Id::NL), trimmed).map_err(|_| PhoneError::Invalid)?;
        if !parsed.is_valid() {
            return Err(PhoneError::Invalid);
        }
        let region = parsed.country().id().ok_or(PhoneError::Invalid)?;
        if let Some(allowed) = countries
            && !allowed.iter().any(|c| c.parse::<country::Id>().ok() == Some(region))
        {
            return Err(PhoneError::CountryNotAllowed);
        }
        let kind = parsed.number_type(&phonenumber::metadata::DATABASE);
        if matches!(kind, Type::PremiumRate | Type::SharedCost) {
            return Err(PhoneError::Premium);
        }
        if mobile && !matches!(kind, Type::Mobile | Type::FixedLineOrMobile) {
            return Err(PhoneError::NotMobile);
        }
        Ok(parsed.format().mode(Mode::E164).to_string())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        #[test]
        fn one_pass_agrees_with_the_crates_checks(
            prefix in proptest::sample::select(vec![
                "+31", "0", "+316", "06", "+3190", "+3120", "+49", "+1", "+44", "+32", "+800", "+979", "+882", "",
                // Kept leading zeros, where the crate's checks differ (`+225` numbers start with 0).
                "+31000", "+310006", "+44000", "000", "0031000", "+225000", "+2250", "+22507",
            ]),
            digits in "[0-9]{0,13}",
            countries in proptest::sample::select(vec![None, Some(vec!["NL".to_string()]), Some(vec!["NL".into(), "BE".into(), "DE".into()])]),
            mobile: bool,
        ) {
            let input = format!("{prefix}{digits}");
            let ours = PhoneNumber::parse_with(&input, countries.as_deref(), mobile).map(|p| p.0);
            proptest::prop_assert_eq!(ours, by_the_crates_own_checks(&input, countries.as_deref(), mobile), "{}", input);
        }
    }

    #[test]
    fn kept_leading_zeros_do_not_make_an_alias() {
        assert_eq!(PhoneNumber::parse("+31000612345678", &nl(true)), Err(PhoneError::Invalid));
        // The crate strips a Dutch trunk zero twice: this one is the number itself, not an alias.
        assert_eq!(PhoneNumber::parse("+3100612345678", &nl(true)).unwrap().e164(), "+31612345678");
    }

    #[test]
    fn debug_never_shows_the_number() {
        let p = PhoneNumber::parse("+31612345678", &nl(true)).unwrap();
        assert!(!format!("{p:?}").contains("12345678"));
    }
}
