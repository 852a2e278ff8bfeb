//! Email destinations.

/// Why an address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid email address")]
pub struct EmailError;

/// A syntactically valid address with a dotted domain, lower-cased domain. Redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        if trimmed.len() > 254 {
            return Err(EmailError);
        }
        let parsed = email_address::EmailAddress::parse_with_options(
            trimmed,
            email_address::Options::default().without_display_text().without_domain_literal(),
        )
        .map_err(|_| EmailError)?;
        let domain = parsed.domain().to_ascii_lowercase();
        // Consumers' mailboxes live on public domains: require a dot and a label after it.
        if !domain.contains('.') || domain.ends_with('.') {
            return Err(EmailError);
        }
        Ok(Self(format!("{}@{}", parsed.local_part(), domain)))
    }

    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn masked(&self) -> String {
        super::mask_email(&self.0)
    }
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Email({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_normal_addresses_and_lowercases_domain() {
        assert_eq!(Email::parse(" Jan@Example.NL ").unwrap().as_str(), "Jan@example.nl");
    }

    #[test]
    fn refuses_junk() {
        for bad in ["", "jan", "jan@", "@example.nl", "jan@localhost", "Jan <jan@example.nl>", "jan@[127.0.0.1]"] {
            assert_eq!(Email::parse(bad), Err(EmailError), "{bad}");
        }
    }
}
