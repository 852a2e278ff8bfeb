//! `optin-verify campaign`: a customer export streamed through the batch route. Batches of up
//! to 1,000 rows, each under an `Idempotency-Key` derived from the file's and the template's
//! digests and the batch's index, so that a rerun after a crash replays what was accepted and
//! sends the rest; one results line per row; and the counts of the batches it made.

mod client;
mod input;
mod progress;
mod status;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Instant,
};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use status::status;

use client::Api;
use progress::Progress;

/// Rows per batch: the batch route's limit.
const BATCH: usize = 1000;

/// Why a run stopped; each has its exit code (docs/CAMPAIGNS.md).
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// The file, the template or the key cannot be used: nothing was sent.
    #[error("{0}")]
    Input(String),
    /// 401 or 403: stopped at once.
    #[error("{0}")]
    Refused(String),
    /// The service kept failing (5xx, lost connections) after the retries.
    #[error("{0}")]
    Server(String),
}

impl CampaignError {
    fn file(path: &Path, e: std::io::Error) -> Self {
        Self::Input(format!("{}: {e}", path.display()))
    }

    /// 2: nothing could start; 3: the key was refused; 4: the service kept failing.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Input(_) => 2,
            Self::Refused(_) => 3,
            Self::Server(_) => 4,
        }
    }
}

pub struct RunArgs {
    pub api: String,
    pub key: String,
    pub template: PathBuf,
    pub csv: PathBuf,
    pub out: PathBuf,
    pub quiet: bool,
}

/// The API key: `OPTIN_API_KEY`, or the first line of `--key-file`. Never a flag value, which
/// every user of the machine could read in the process list.
pub fn api_key(key_file: Option<&Path>) -> Result<String, CampaignError> {
    let key = match key_file {
        Some(p) => std::fs::read_to_string(p).map_err(|e| CampaignError::file(p, e))?,
        None => std::env::var("OPTIN_API_KEY")
            .map_err(|_| CampaignError::Input("set OPTIN_API_KEY, or pass --key-file FILE".into()))?,
    };
    let key = key.lines().next().unwrap_or("").trim().to_string();
    if key.is_empty() {
        return Err(CampaignError::Input("the API key is empty".into()));
    }
    Ok(key)
}

const HEADER: [&str; 9] = [
    "row",
    "reference",
    "phone",
    "verification_id",
    "status",
    "problem_type",
    "problem_field",
    "problem_detail",
    "batch_id",
];

/// One results line: what became of one input row.
struct Outcome {
    row: u64,
    reference: String,
    phone: String,
    verification_id: String,
    status: String,
    problem: (String, String, String),
}

/// What the run did, for the summary.
#[derive(Default)]
struct Tally {
    accepted: u64,
    refused: BTreeMap<String, u64>,
    batches: Vec<String>,
}

/// Runs the campaign; the results file is rewritten from the first row on every run.
pub async fn run(args: RunArgs) -> Result<(), CampaignError> {
    let started = Instant::now();
    let input = input::inspect(&args.csv)?;
    let template_bytes = std::fs::read(&args.template).map_err(|e| CampaignError::file(&args.template, e))?;
    let template: Map<String, Value> = match serde_json::from_slice(&template_bytes) {
        Ok(Value::Object(m)) => m,
        _ => return Err(CampaignError::Input(format!("{}: not a JSON object", args.template.display()))),
    };
    if !input.ignored.is_empty() && !args.quiet {
        eprintln!("ignoring columns: {}", input.ignored.join(", "));
    }
    let api = Api::new(&args.api, args.key.clone())?;
    let template_digest: [u8; 32] = Sha256::digest(&template_bytes).into();
    let mut out = csv::WriterBuilder::new()
        .delimiter(input.separator)
        .from_path(&args.out)
        .map_err(|e| CampaignError::Input(format!("{}: {e}", args.out.display())))?;
    out.write_record(HEADER).map_err(|e| CampaignError::Input(e.to_string()))?;
    let mut progress = Progress::new(input.rows, args.quiet);
    let mut tally = Tally::default();
    let mut rdr = input::reader(&args.csv, input.separator)?;
    let mut records = rdr.records();
    let (mut row, mut index) = (0u64, 0u64);
    loop {
        // The next batch: rows read, the start bodies of those that are rows at all.
        let mut rows: Vec<(u64, String, Result<Value, String>)> = Vec::with_capacity(BATCH);
        for record in records.by_ref().take(BATCH) {
            row += 1;
            let parsed = record.map_err(|e| e.to_string()).and_then(|r| {
                let phone = r.get(input.columns.iter().position(|c| *c == input::Column::Phone).unwrap_or(0));
                let phone = phone.unwrap_or("").to_string();
                input::item(&template, &input.columns, &r).map(|v| (phone, v))
            });
            match parsed {
                Ok((phone, body)) => rows.push((row, phone, Ok(body))),
                Err(e) => rows.push((row, String::new(), Err(e))),
            }
        }
        if rows.is_empty() {
            break;
        }
        let items: Vec<Value> = rows.iter().filter_map(|(_, _, b)| b.as_ref().ok().cloned()).collect();
        let key = batch_key(&input.digest, &template_digest, index);
        index += 1;
        let answer = if items.is_empty() {
            None
        } else {
            Some(api.batch(&items, &key).await.inspect_err(|_| {
                let _ = out.flush();
                progress.abandon();
                eprintln!(
                    "stopped before row {}: the rows before it have their results in {}",
                    rows[0].0,
                    args.out.display()
                );
            })?)
        };
        let batch_id = answer.as_ref().and_then(|a| a["id"].as_str()).unwrap_or("").to_string();
        if !batch_id.is_empty() {
            tally.batches.push(batch_id.clone());
        }
        let mut answered = answer.as_ref().and_then(|a| a["items"].as_array()).into_iter().flatten();
        for (row, phone, body) in rows {
            let o = match body {
                Err(detail) => Outcome {
                    row,
                    reference: String::new(),
                    phone: crate::domain::mask_phone(&phone),
                    verification_id: String::new(),
                    status: String::new(),
                    problem: ("invalid-row".into(), String::new(), detail),
                },
                Ok(body) => outcome(row, &phone, &body, answered.next()),
            };
            if o.verification_id.is_empty() {
                *tally.refused.entry(o.problem.0.clone()).or_default() += 1;
            } else {
                tally.accepted += 1;
            }
            out.write_record([
                o.row.to_string(),
                o.reference,
                o.phone,
                o.verification_id,
                o.status,
                o.problem.0,
                o.problem.1,
                o.problem.2,
                batch_id.clone(),
            ])
            .map_err(|e| CampaignError::Input(format!("{}: {e}", args.out.display())))?;
            progress.row(o_accepted(&tally));
        }
        out.flush().map_err(|e| CampaignError::file(&args.out, e))?;
    }
    progress.finish();
    summary(&args, &tally, row, started.elapsed());
    Ok(())
}

fn o_accepted(t: &Tally) -> (u64, u64) {
    (t.accepted, t.refused.values().sum())
}

/// The row's line from its item in the batch's answer.
fn outcome(row: u64, phone: &str, body: &Value, answer: Option<&Value>) -> Outcome {
    let reference = body["reference"].as_str().unwrap_or("").to_string();
    let Some(a) = answer else {
        return Outcome {
            row,
            reference,
            phone: crate::domain::mask_phone(phone),
            verification_id: String::new(),
            status: String::new(),
            problem: ("no-answer".into(), String::new(), "the batch answered no item for this row".into()),
        };
    };
    let v = &a["verification"];
    let e = &a["error"];
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    Outcome {
        row,
        reference,
        phone: v["phone"].as_str().map(str::to_string).unwrap_or_else(|| crate::domain::mask_phone(phone)),
        verification_id: s(&v["id"]),
        status: a["status"].as_u64().map(|n| n.to_string()).unwrap_or_default(),
        problem: (s(&e["type"]).rsplit('/').next().unwrap_or("").to_string(), s(&e["field"]), s(&e["detail"])),
    }
}

/// The `Idempotency-Key` of batch `index`: the same file and template name the same batches.
fn batch_key(file: &[u8; 32], template: &[u8; 32], index: u64) -> String {
    let mut h = Sha256::new();
    h.update(b"optin-verify campaign v1\0");
    h.update(file);
    h.update(template);
    h.update(index.to_be_bytes());
    format!("campaign-{}", &hex::encode(h.finalize())[..48])
}

fn summary(args: &RunArgs, t: &Tally, rows: u64, took: std::time::Duration) {
    let secs = took.as_secs_f64().max(0.001);
    println!(
        "{rows} rows in {secs:.1} s ({:.0} rows/s): {} accepted, {} refused",
        rows as f64 / secs,
        t.accepted,
        rows - t.accepted
    );
    for (kind, n) in &t.refused {
        println!("  refused {kind}: {n}");
    }
    println!("results: {}", args.out.display());
    match t.batches.as_slice() {
        [] => {}
        [one] => println!("batch: {one}"),
        many => println!("batches: {} ({} ... {})", many.len(), many[0], many[many.len() - 1]),
    }
    println!("follow it: optin-verify campaign status --api {} --results {} --watch", args.api, args.out.display());
}

#[cfg(test)]
mod tests {
    #[test]
    fn batch_keys_name_the_file_the_template_and_the_index() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert_eq!(super::batch_key(&a, &b, 0), super::batch_key(&a, &b, 0));
        assert_ne!(super::batch_key(&a, &b, 0), super::batch_key(&a, &b, 1));
        assert_ne!(super::batch_key(&a, &b, 0), super::batch_key(&b, &a, 0));
        assert!(super::batch_key(&a, &b, 0).len() <= 64);
    }
}
