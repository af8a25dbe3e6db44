//! Percentiles and markdown rows.

use std::time::Duration;

/// p50/p90/p99/max of a sample set (nearest-rank percentiles).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Summary {
    pub(crate) n: usize,
    pub(crate) p50: Duration,
    pub(crate) p90: Duration,
    pub(crate) p99: Duration,
    pub(crate) max: Duration,
}

impl Summary {
    pub(crate) fn of(samples: &[Duration]) -> Self {
        let mut v = samples.to_vec();
        v.sort_unstable();
        let pick = |q: f64| -> Duration {
            if v.is_empty() {
                return Duration::ZERO;
            }
            // Nearest rank: ceil(q * n), 1-based.
            let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
            v[rank - 1]
        };
        Self {
            n: v.len(),
            p50: pick(0.50),
            p90: pick(0.90),
            p99: pick(0.99),
            max: v.last().copied().unwrap_or_default(),
        }
    }

    /// `| p50 | p90 | p99 | max |` cells in milliseconds.
    pub(crate) fn cells(&self) -> String {
        format!(
            "{} | {} | {} | {}",
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.max)
        )
    }
}

/// Milliseconds with three decimals.
pub(crate) fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

/// Median of a list (upper median for even lengths).
pub(crate) fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}
