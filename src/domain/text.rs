//! Free text: one rule for every text field the API or a page accepts.
//!
//! These texts reach email headers and subjects, SMS, the consumer pages, webhook payloads and
//! signed evidence. A CR or LF can forge a header line or a paragraph the person never saw; a
//! line separator breaks a log or CSV line; a bidi control makes a page or a receipt show
//! something other than what is stored (Trojan Source, CVE-2021-42574). So none of these is
//! taken, in any field:
//!
//! - the C0 controls U+0000–U+001F, DEL U+007F and the C1 controls U+0080–U+009F (CR, LF, NEL
//!   among them). TAB is one of them too: no field documents it, so none takes it;
//! - the line and paragraph separators U+2028 and U+2029;
//! - the bidi embeddings and overrides U+202A–U+202E and the bidi isolates U+2066–U+2069.
//!
//! Everything else passes: letters of any script, accents, emoji, no-break spaces, joiners.

use std::{fmt, ops::Deref};

use serde::{Deserialize, Serialize, Serializer};

/// Whether `c` is refused in free text (see the module documentation).
pub fn forbidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A free text held a refused character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextError {
    /// The first refused character.
    pub found: char,
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The code point, never the character itself: it would do its harm in the answer.
        write!(
            f,
            "must not contain control characters (such as CR, LF or TAB), line or paragraph separators, \
             or bidi controls; found U+{:04X}",
            u32::from(self.found)
        )
    }
}

impl std::error::Error for TextError {}

/// A text that holds no refused character. Any length, empty included: fields set their own
/// lengths. Parsed from JSON as a plain string, so a body that breaks the rule is refused
/// before a handler runs, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct PlainText(String);

impl PlainText {
    pub fn parse(s: impl Into<String>) -> Result<Self, TextError> {
        let s = s.into();
        Self::check(&s)?;
        Ok(Self(s))
    }

    /// The rule for a text kept as a `String` (e.g. a stored evidence field): `Ok` when
    /// [`PlainText::parse`] would take it.
    pub fn check(s: &str) -> Result<(), TextError> {
        match s.chars().find(|&c| forbidden(c)) {
            Some(found) => Err(TextError { found }),
            None => Ok(()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl TryFrom<String> for PlainText {
    type Error = TextError;

    fn try_from(s: String) -> Result<Self, TextError> {
        Self::parse(s)
    }
}

impl From<PlainText> for String {
    fn from(t: PlainText) -> String {
        t.0
    }
}

impl Deref for PlainText {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for PlainText {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PlainText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for PlainText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The refused set, written out by hand: the rule must match it exactly.
    fn expected_refused(cp: u32) -> bool {
        matches!(cp, 0x00..=0x1F | 0x7F | 0x80..=0x9F | 0x2028 | 0x2029 | 0x202A..=0x202E | 0x2066..=0x2069)
    }

    #[test]
    fn every_code_point_is_judged_by_the_one_rule() {
        let mut refused = 0;
        for cp in 0..=0x10FFFFu32 {
            let Some(c) = char::from_u32(cp) else { continue };
            assert_eq!(forbidden(c), expected_refused(cp), "U+{cp:04X}");
            assert_eq!(PlainText::check(&format!("a{c}b")).is_err(), expected_refused(cp), "U+{cp:04X}");
            refused += usize::from(forbidden(c));
        }
        // 32 C0 + DEL + 32 C1 + 2 separators + 5 embeddings/overrides + 4 isolates.
        assert_eq!(refused, 76);
    }

    #[test]
    fn each_class_of_code_point() {
        let refused = [
            ('\0', "NUL"),
            ('\t', "TAB"),
            ('\n', "LF"),
            ('\r', "CR"),
            ('\u{1B}', "ESC"),
            ('\u{7F}', "DEL"),
            ('\u{80}', "first C1"),
            ('\u{85}', "NEL (C1)"),
            ('\u{9F}', "last C1"),
            ('\u{2028}', "line separator"),
            ('\u{2029}', "paragraph separator"),
            ('\u{202A}', "LRE"),
            ('\u{202B}', "RLE"),
            ('\u{202C}', "PDF"),
            ('\u{202D}', "LRO"),
            ('\u{202E}', "RLO"),
            ('\u{2066}', "LRI"),
            ('\u{2067}', "RLI"),
            ('\u{2068}', "FSI"),
            ('\u{2069}', "PDI"),
        ];
        for (c, what) in refused {
            let text = format!("Voorbeeld{c}Energie");
            assert_eq!(PlainText::check(&text), Err(TextError { found: c }), "{what}");
            assert!(PlainText::parse(text).is_err(), "{what}");
        }
        let allowed = [
            ("ASCII", "Acme Energie B.V. (tel: 020-1234567) & co; 100% <ok>"),
            ("Latin-1 letters", "Café Ünïcødé façade ÿ"),
            ("no-break space U+00A0", "Acme\u{A0}B.V."),
            ("soft hyphen U+00AD", "Ener\u{AD}gie"),
            ("Greek, Cyrillic, CJK", "Ωμέγα Привет 日本語"),
            ("Arabic and Hebrew", "مرحبا שלום"),
            ("zero-width joiner, emoji", "👩\u{200D}💻 ✅"),
            ("en and em spaces", "a\u{2002}b\u{2003}c"),
            ("supplementary planes", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u{10FFFD}"),
            ("empty", ""),
        ];
        for (what, text) in allowed {
            assert_eq!(PlainText::check(text), Ok(()), "{what}");
            assert_eq!(PlainText::parse(text).unwrap().as_str(), text, "{what}");
        }
    }

    #[test]
    fn the_error_names_the_code_point_not_the_character() {
        let e = PlainText::check("x\u{202E}y").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("U+202E"), "{msg}");
        assert!(!msg.contains('\u{202E}'));
        assert!(PlainText::check("\r\n").unwrap_err().to_string().ends_with("U+000D"));
    }

    #[test]
    fn parses_from_json_as_a_string() {
        let ok: PlainText = serde_json::from_str(r#""phone_call""#).unwrap();
        assert_eq!(&*ok, "phone_call");
        assert_eq!(serde_json::to_string(&ok).unwrap(), r#""phone_call""#);
        let bad = serde_json::from_str::<PlainText>(r#""phone_call\r\n""#).unwrap_err();
        assert!(bad.to_string().contains("U+000D"), "{bad}");
        assert!(serde_json::from_str::<PlainText>("7").is_err());
    }
}
