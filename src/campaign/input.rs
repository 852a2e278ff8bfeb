//! The customer export: a CSV with a header, `,` or `;` separated (Dutch Excel writes `;`),
//! perhaps with a UTF-8 byte-order mark. Read twice: once to check its columns, count its rows
//! and digest it (the digest names its batches), once to send it, a batch at a time.

use std::{
    fs::File,
    io::{BufRead, BufReader, Read},
    path::Path,
};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::CampaignError;

/// What a column of the file sets in a start body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    Phone,
    To,
    /// The address a code or link goes to; the channel becomes `email` unless a `channel`
    /// column says otherwise.
    Email,
    Locale,
    Reference,
    Channel,
    Method,
    Metadata(String),
    /// `x-...`: the marketer's own, left out.
    Ignored,
}

/// A checked file: its separator, its columns, its size in rows and its digest.
#[derive(Debug)]
pub struct Input {
    pub separator: u8,
    pub columns: Vec<Column>,
    /// The `x-` columns left out, to report.
    pub ignored: Vec<String>,
    pub rows: u64,
    pub digest: [u8; 32],
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

fn column(name: &str) -> Option<Column> {
    let name = name.trim();
    Some(match name.to_ascii_lowercase().as_str() {
        "phone" => Column::Phone,
        "to" => Column::To,
        "email" => Column::Email,
        "locale" => Column::Locale,
        "reference" => Column::Reference,
        "channel" => Column::Channel,
        "method" => Column::Method,
        n if n.starts_with("x-") => Column::Ignored,
        _ => match name.strip_prefix("metadata.") {
            Some(key) if !key.is_empty() => Column::Metadata(key.to_string()),
            _ => return None,
        },
    })
}

/// `,` or `;`: whichever the header line holds more of.
fn sniff(header: &str) -> u8 {
    if header.matches(';').count() > header.matches(',').count() { b';' } else { b',' }
}

/// A reader of the file's records (the header and a byte-order mark skipped by the caller's
/// `csv` reader), from the start.
pub fn reader(path: &Path, separator: u8) -> Result<csv::Reader<Box<dyn Read>>, CampaignError> {
    let mut file = BufReader::new(File::open(path).map_err(|e| CampaignError::file(path, e))?);
    let start = file.fill_buf().map_err(|e| CampaignError::file(path, e))?;
    if start.starts_with(BOM) {
        file.consume(BOM.len());
    }
    Ok(csv::ReaderBuilder::new().delimiter(separator).flexible(true).from_reader(Box::new(file) as Box<dyn Read>))
}

/// Checks the header (an unknown column stops everything before a request is made), counts
/// the rows and digests the bytes.
pub fn inspect(path: &Path) -> Result<Input, CampaignError> {
    let mut first = String::new();
    BufReader::new(File::open(path).map_err(|e| CampaignError::file(path, e))?)
        .read_line(&mut first)
        .map_err(|e| CampaignError::file(path, e))?;
    let separator = sniff(first.trim_start_matches('\u{feff}'));
    let mut rdr = reader(path, separator)?;
    let header = rdr.headers().map_err(|e| CampaignError::Input(format!("{}: {e}", path.display())))?.clone();
    let mut columns = Vec::new();
    let mut ignored = Vec::new();
    for name in &header {
        match column(name) {
            Some(Column::Ignored) => {
                ignored.push(name.to_string());
                columns.push(Column::Ignored);
            }
            Some(c) => columns.push(c),
            None => {
                return Err(CampaignError::Input(format!(
                    "{}: unknown column {name:?}; known: phone, to, email, locale, reference, channel, method, \
                     metadata.<name>, and x-<anything> (ignored)",
                    path.display()
                )));
            }
        }
    }
    if !columns.contains(&Column::Phone) {
        return Err(CampaignError::Input(format!("{}: the header has no `phone` column", path.display())));
    }
    let mut rows = 0u64;
    let mut record = csv::ByteRecord::new();
    while rdr.read_byte_record(&mut record).map_err(|e| CampaignError::Input(format!("{}: {e}", path.display())))? {
        rows += 1;
    }
    if rows == 0 {
        return Err(CampaignError::Input(format!("{}: the file has a header and no rows", path.display())));
    }
    let mut hasher = Sha256::new();
    let mut file = File::open(path).map_err(|e| CampaignError::file(path, e))?;
    std::io::copy(&mut file, &mut hasher).map_err(|e| CampaignError::file(path, e))?;
    Ok(Input { separator, columns, ignored, rows, digest: hasher.finalize().into() })
}

/// The start body of one row: the template with the row's columns over it. `Err` names what is
/// wrong with the row itself (its column count); everything else is for the API to judge.
pub fn item(template: &Map<String, Value>, columns: &[Column], record: &csv::StringRecord) -> Result<Value, String> {
    if record.len() != columns.len() {
        return Err(format!("the row has {} fields, the header {}", record.len(), columns.len()));
    }
    let mut body = template.clone();
    let mut channel_set = false;
    for (c, value) in columns.iter().zip(record.iter()) {
        let value = value.trim();
        let text = || Value::String(value.to_string());
        match c {
            Column::Phone => {
                body.insert("phone".into(), text());
            }
            Column::Ignored => {}
            _ if value.is_empty() => {}
            Column::To => {
                body.insert("to".into(), text());
            }
            Column::Email => {
                body.insert("to".into(), text());
                if !channel_set {
                    body.insert("channel".into(), Value::String("email".into()));
                }
            }
            Column::Locale => {
                body.insert("locale".into(), text());
            }
            Column::Reference => {
                body.insert("reference".into(), text());
            }
            Column::Channel => {
                body.insert("channel".into(), text());
                channel_set = true;
            }
            Column::Method => {
                body.insert("method".into(), text());
            }
            Column::Metadata(key) => {
                let meta = body.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
                if let Some(m) = meta.as_object_mut() {
                    m.insert(key.clone(), text());
                }
            }
        }
    }
    Ok(Value::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &[u8]) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("campaign-{}.csv", rand::random::<u64>()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn a_dutch_excel_export_with_a_bom_and_semicolons_reads() {
        let p = file(
            b"\xEF\xBB\xBFphone;reference;metadata.crm;x-notes\n0612345678;crm-1;A1;call later\n0612345679;crm-2;;\n",
        );
        let input = inspect(&p).unwrap();
        assert_eq!((input.separator, input.rows), (b';', 2));
        assert_eq!(input.ignored, ["x-notes"]);
        let mut rdr = reader(&p, input.separator).unwrap();
        let rows: Vec<Value> =
            rdr.records().map(|r| item(&serde_json::Map::new(), &input.columns, &r.unwrap()).unwrap()).collect();
        assert_eq!(rows[0]["phone"], "0612345678");
        assert_eq!(rows[0]["reference"], "crm-1");
        assert_eq!(rows[0]["metadata"]["crm"], "A1");
        assert!(rows[1].get("metadata").is_none(), "an empty cell overrides nothing");
        assert!(rows[0].get("x-notes").is_none());
    }

    #[test]
    fn an_unknown_column_a_missing_phone_and_no_rows_are_refused() {
        let e = inspect(&file(b"phone,colour\n0612345678,red\n")).unwrap_err().to_string();
        assert!(e.contains("unknown column \"colour\""), "{e}");
        assert!(inspect(&file(b"reference\ncrm-1\n")).unwrap_err().to_string().contains("no `phone` column"));
        assert!(inspect(&file(b"phone\n")).unwrap_err().to_string().contains("no rows"));
    }

    #[test]
    fn an_email_column_sends_by_email_unless_a_channel_column_says_otherwise() {
        let cols = [Column::Phone, Column::Email];
        let r = csv::StringRecord::from(vec!["0612345678", "jan@example.nl"]);
        let v = item(&serde_json::Map::new(), &cols, &r).unwrap();
        assert_eq!((v["to"].as_str(), v["channel"].as_str()), (Some("jan@example.nl"), Some("email")));
        let short = csv::StringRecord::from(vec!["0612345678"]);
        assert!(item(&serde_json::Map::new(), &cols, &short).is_err());
    }
}
