//! SMS encoding: GSM-7 when every character is in the GSM 03.38 tables, UCS-2 otherwise, and
//! the number of segments a text costs. Tables as published in GSM 03.38.

/// Basic table (1 septet each), with '\n' and '\r'; ESC omitted.
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Extension table: each costs ESC plus one septet.
const EXTENSION: &str = "\u{000C}^{}\\[~]|€";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

/// Which ASCII characters the basic table holds: every SMS is measured character by character,
/// and a search through `BASIC` per character was a tenth of the sender's time.
const BASIC_ASCII: [bool; 128] = {
    let mut t = [false; 128];
    let b = BASIC.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] < 128 {
            t[b[i] as usize] = true;
        }
        i += 1;
    }
    t
};

fn in_basic(c: char) -> bool {
    if c.is_ascii() { BASIC_ASCII[c as usize] } else { BASIC.contains(c) }
}

/// How a text travels and how many SMS parts it costs.
pub fn segments(text: &str) -> (Encoding, usize) {
    let gsm_units: Option<usize> = text
        .chars()
        .map(|c| {
            if in_basic(c) {
                Some(1)
            } else if EXTENSION.contains(c) {
                Some(2)
            } else {
                None
            }
        })
        .sum();
    match gsm_units {
        Some(n) if n <= 160 => (Encoding::Gsm7, 1),
        Some(n) => (Encoding::Gsm7, n.div_ceil(153)),
        None => {
            let units = text.encode_utf16().count();
            (Encoding::Ucs2, if units <= 70 { 1 } else { units.div_ceil(67) })
        }
    }
}

/// Replaces characters that would force UCS-2 with GSM-7 look-alikes, where one is obvious.
pub fn to_gsm_friendly(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    text.chars()
        .map(|c| match c {
            '‘' | '’' | '‚' | '`' => '\'',
            '“' | '”' | '„' => '"',
            '–' | '—' => '-',
            '…' => '.',
            'ë' | 'ê' => 'e',
            'ï' | 'î' | 'í' => 'i',
            'á' | 'â' => 'a',
            'ó' | 'ô' => 'o',
            'ú' | 'û' => 'u',
            'ç' => 'c',
            '\u{a0}' => ' ',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_segments_like_the_networks_do() {
        assert_eq!(segments(&"a".repeat(160)), (Encoding::Gsm7, 1));
        assert_eq!(segments(&"a".repeat(161)), (Encoding::Gsm7, 2));
        assert_eq!(segments(&"a".repeat(306)), (Encoding::Gsm7, 2));
        assert_eq!(segments(&"a".repeat(307)), (Encoding::Gsm7, 3));
        assert_eq!(segments(&"€".repeat(80)), (Encoding::Gsm7, 1), "extension characters cost two");
        assert_eq!(segments(&"€".repeat(81)), (Encoding::Gsm7, 2));
        assert_eq!(segments(&"ë".repeat(70)), (Encoding::Ucs2, 1));
        assert_eq!(segments(&"ë".repeat(71)), (Encoding::Ucs2, 2));
        assert_eq!(segments("Uw code is 123456. Geldig 10 min."), (Encoding::Gsm7, 1));
    }

    #[test]
    fn the_ascii_table_agrees_with_the_basic_table() {
        for b in 0u8..128 {
            let c = char::from(b);
            assert_eq!(in_basic(c), BASIC.contains(c), "{b}");
        }
        assert!(!in_basic('`') && in_basic('@') && in_basic('\n') && !in_basic('\t'));
    }

    #[test]
    fn look_alikes_keep_dutch_text_in_gsm7() {
        assert_eq!(segments("Financiële “offerte” – geïnteresseerd?").0, Encoding::Ucs2);
        assert_eq!(segments(&to_gsm_friendly("Financiële “offerte” – geïnteresseerd?")).0, Encoding::Gsm7);
    }
}
