//! Markdown tables of medians, with ratios to ours.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::receivers::ReceiverKind;
use crate::senders::SenderKind;
use crate::{Case, Results, Sample};

/// The median of `v` (mean of the middle two for even lengths); None if empty.
pub(crate) fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// Medians of one case over its successful runs.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Medians {
    /// Successful runs.
    pub(crate) ok: usize,
    /// All runs.
    pub(crate) runs: usize,
    /// Start → Established, s.
    pub(crate) established: Option<f64>,
    /// Start → all routes, s.
    pub(crate) total: Option<f64>,
    /// Established → all routes, s.
    pub(crate) after: Option<f64>,
    /// Peak RSS, bytes.
    pub(crate) rss: Option<f64>,
    /// CPU, s.
    pub(crate) cpu: Option<f64>,
}

/// Medians per case.
pub(crate) fn medians(samples: &[Sample]) -> BTreeMap<Case, Medians> {
    let mut by: BTreeMap<Case, Vec<&Sample>> = BTreeMap::new();
    for s in samples {
        by.entry(s.case).or_default().push(s);
    }
    by.into_iter()
        .map(|(c, v)| {
            let ok: Vec<&&Sample> = v.iter().filter(|s| s.error.is_none()).collect();
            let m = |f: &dyn Fn(&Sample) -> Option<f64>| {
                median(ok.iter().filter_map(|s| f(s)).collect())
            };
            (
                c,
                Medians {
                    ok: ok.len(),
                    runs: v.len(),
                    established: m(&|s| s.established_s),
                    total: m(&|s| s.total_s),
                    after: m(&|s| s.after_established_s),
                    rss: m(&|s| s.sender_rss.map(|r| r as f64)),
                    cpu: m(&|s| s.sender_cpu_s),
                },
            )
        })
        .collect()
}

fn f(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".into(), |x| format!("{x:.digits$}"))
}

fn ratio(theirs: Option<f64>, ours: Option<f64>) -> String {
    match (theirs, ours) {
        (Some(t), Some(o)) if o > 0.0 => format!("{:.2}×", t / o),
        _ => "–".into(),
    }
}

/// The report: machine, then one table per receiver.
pub(crate) fn markdown(r: &Results) -> String {
    let mut out = String::new();
    let m = &r.machine;
    let _ = writeln!(
        out,
        "\nMachine: {} CPUs ({}), {}, kernel {}; {}; measured {}.\n",
        m.nproc,
        m.cpu.trim(),
        m.mem,
        m.kernel,
        m.versions.join(", "),
        m.date
    );
    let med = medians(&r.samples);
    let receivers: Vec<ReceiverKind> = {
        let mut v: Vec<_> = med.keys().map(|c| c.receiver).collect();
        v.dedup();
        v
    };
    for rcv in receivers {
        let _ = writeln!(out, "#### Receiver: {}\n", rcv.name());
        let _ = writeln!(
            out,
            "| sender | prefixes | runs ok | to Established (s) | to all routes (s) | after Established (s) | after-Est. ratio (their ÷ ours) | total ratio (their ÷ ours) | sender peak RSS (MB) | RSS bytes/prefix | sender CPU (s) |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
        for (c, x) in med.iter().filter(|(c, _)| c.receiver == rcv) {
            let ours = med.get(&Case {
                sender: SenderKind::Inject,
                ..*c
            });
            let (ra, rt) = if c.sender == SenderKind::Inject {
                ("1 (ours)".to_owned(), "1 (ours)".to_owned())
            } else {
                (
                    ratio(x.after, ours.and_then(|o| o.after)),
                    ratio(x.total, ours.and_then(|o| o.total)),
                )
            };
            let _ = writeln!(
                out,
                "| {} | {} × {} | {}/{} | {} | {} | {} | {} | {} | {} | {} | {} |",
                c.sender.name(),
                fmt_n(c.n),
                c.fam.label(),
                x.ok,
                x.runs,
                f(x.established, 3),
                f(x.total, 3),
                f(x.after, 3),
                ra,
                rt,
                f(x.rss.map(|b| b / 1e6), 1),
                f(x.rss.map(|b| b / c.n as f64), 0),
                f(x.cpu, 2),
            );
        }
        let _ = writeln!(out);
    }
    let failures: Vec<&Sample> = r.samples.iter().filter(|s| s.error.is_some()).collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "Failed runs:\n");
        for s in failures {
            let _ = writeln!(
                out,
                "- {} → {}, {} × {}, run {}: {}",
                s.case.sender.name(),
                s.case.receiver.name(),
                s.case.n,
                s.case.fam.label(),
                s.run,
                s.error.as_deref().unwrap_or_default().replace('\n', " ")
            );
        }
        let _ = writeln!(out);
    }
    out
}

/// 100000 → "100k", 1000000 → "1M".
pub(crate) fn fmt_n(n: u64) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}
