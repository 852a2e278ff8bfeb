//! One-time codes: decimal digits of the configured length.

/// A code typed by a person or sent by us. Redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Code(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the code must be {0} digits (4 to 10)")]
pub struct CodeError(pub u8);

impl Code {
    /// Accepts the digits with spaces or dashes that people type, nothing else.
    pub fn parse(input: &str, len: u8) -> Result<Self, CodeError> {
        let digits: String = input.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if digits.len() != usize::from(len) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeError(len));
        }
        Ok(Self(digits))
    }

    /// Any length a code can have (4 to 10 digits).
    pub fn parse_any(input: &str) -> Result<Self, CodeError> {
        (4..=10).find_map(|len| Self::parse(input, len).ok()).ok_or(CodeError(6))
    }

    /// A fresh random code, for codes not derived from a verification's seed.
    pub fn random(len: u8) -> Self {
        Self::from_uniform_words(len, rand::random)
    }

    /// Draws `len` digits without modulo bias from a stream of uniform 64-bit words.
    pub(super) fn from_uniform_words(len: u8, mut next_word: impl FnMut() -> u64) -> Self {
        let modulus = 10u64.pow(u32::from(len));
        // Largest multiple of `modulus` that fits; words at or above it are rejected.
        let zone = u64::MAX - (u64::MAX % modulus);
        loop {
            let w = next_word();
            if w < zone {
                return Self(format!("{:0width$}", w % modulus, width = usize::from(len)));
            }
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Code(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_typed_forms_only() {
        assert_eq!(Code::parse("123 456", 6).unwrap().expose(), "123456");
        assert_eq!(Code::parse("123-456", 6).unwrap().expose(), "123456");
        assert!(Code::parse("12345", 6).is_err());
        assert!(Code::parse("1234567", 6).is_err());
        assert!(Code::parse("12345a", 6).is_err());
        assert!(Code::parse("١٢٣٤٥٦", 6).is_err());
    }

    #[test]
    fn rejection_zone_is_skipped() {
        let mut words = vec![u64::MAX, 42].into_iter();
        assert_eq!(Code::from_uniform_words(6, || words.next().unwrap()).expose(), "000042");
    }
}
