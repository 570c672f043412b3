//! `gen cost`: the monthly estimate of an environment (the pricing itself is `aws::cost`).

use std::path::Path;

use aws::cost::{estimate, Estimate, Usd};
use tf::Document;

use crate::config::InputError;

/// The estimate of an env's generated document.
pub fn of_env(envs_dir: &Path, name: &str) -> Result<Estimate, InputError> {
    let doc = Document::from_stack(&crate::stack(envs_dir, name)?);
    of_doc(&doc)
}

/// The estimate of a document, as bad input when it cannot be priced.
pub fn of_doc(doc: &Document) -> Result<Estimate, InputError> {
    estimate(doc).map_err(InputError)
}

/// How a change moves the estimate: `cost: $a -> $b per month (+$c)`; `None` when it does not.
/// A side that cannot be priced (an empty old output, say) is shown as such.
pub fn moved(old: &Document, new: &Document) -> Option<String> {
    let total = |d: &Document| {
        if d.items.is_empty() {
            return Ok(None);
        }
        estimate(d).map(|e| Some(e.total))
    };
    match (total(old), total(new)) {
        (Ok(a), Ok(b)) if a == b => None,
        (Ok(a), Ok(b)) => {
            let (a0, b0) = (a.unwrap_or_default(), b.unwrap_or_default());
            Some(format!(
                "monthly estimate: {a0} -> {b0} ({})",
                Usd(b0.0 - a0.0).signed()
            ))
        }
        (Err(e), _) | (_, Err(e)) => Some(format!("monthly estimate: cannot price: {e}")),
    }
}
