//! `optin-verify campaign status`: the counts of every batch a run made, summed, and the
//! conversion so far; `--watch` repeats it until nothing is open.

use std::{collections::BTreeSet, io::IsTerminal, path::Path, time::Duration};

use super::{CampaignError, client::Api};

const STATES: [&str; 8] = ["queued", "held", "sent", "confirmed", "declined", "expired", "failed", "canceled"];

/// The batch ids in a results file (its `batch_id` column).
fn batch_ids(results: &Path) -> Result<Vec<String>, CampaignError> {
    let text = std::fs::read_to_string(results).map_err(|e| CampaignError::file(results, e))?;
    let header = text.lines().next().unwrap_or("");
    let sep = if header.contains(';') { b';' } else { b',' };
    let mut rdr = csv::ReaderBuilder::new().delimiter(sep).from_reader(text.as_bytes());
    let col = rdr
        .headers()
        .map_err(|e| CampaignError::Input(e.to_string()))?
        .iter()
        .position(|h| h == "batch_id")
        .ok_or_else(|| {
            CampaignError::Input(format!("{}: not a results file (no batch_id column)", results.display()))
        })?;
    let mut ids = BTreeSet::new();
    for r in rdr.records() {
        let r = r.map_err(|e| CampaignError::Input(e.to_string()))?;
        if let Some(id) = r.get(col).filter(|s| !s.is_empty()) {
            ids.insert(id.to_string());
        }
    }
    Ok(ids.into_iter().collect())
}

/// The summed counts per state.
async fn totals(api: &Api, ids: &[String]) -> Result<[u64; 8], CampaignError> {
    let mut sum = [0u64; 8];
    for id in ids {
        let b = api.counts(id).await?;
        for (i, s) in STATES.iter().enumerate() {
            sum[i] += b["counts"][s].as_u64().unwrap_or(0);
        }
    }
    Ok(sum)
}

fn table(ids: usize, sum: &[u64; 8]) -> String {
    let mut out = format!("{ids} batch(es)\n");
    for (s, n) in STATES.iter().zip(sum) {
        out.push_str(&format!("  {s:<10} {n:>9}\n"));
    }
    // Every message that went out and was answered or ran out, and those still waiting.
    let sent: u64 = sum[2] + sum[3] + sum[4] + sum[5] + sum[6];
    if sent > 0 {
        out.push_str(&format!("  conversion {:.1}% (confirmed of {sent} sent)\n", 100.0 * sum[3] as f64 / sent as f64));
    }
    out
}

/// Sums the batches of every results file given (several runs of one campaign, say).
pub async fn status(
    api_base: &str,
    key: String,
    results: &[std::path::PathBuf],
    watch: bool,
) -> Result<(), CampaignError> {
    let mut ids = Vec::new();
    for r in results {
        ids.extend(batch_ids(r)?);
    }
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Err(CampaignError::Input("no batch ids in the results yet".into()));
    }
    let api = Api::new(api_base, key)?;
    let terminal = std::io::stdout().is_terminal();
    loop {
        let sum = totals(&api, &ids).await?;
        if watch && terminal {
            print!("\x1b[2J\x1b[H");
        }
        print!("{}", table(ids.len(), &sum));
        let open = sum[0] + sum[1] + sum[2];
        if !watch || open == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_table_sums_and_converts() {
        let t = super::table(2, &[1, 0, 6, 2, 1, 1, 0, 0]);
        assert!(t.contains("confirmed          2"), "{t}");
        assert!(t.contains("conversion 20.0% (confirmed of 10 sent)"), "{t}");
    }
}
