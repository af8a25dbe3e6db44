//! Kubernetes label selectors (`matchLabels` plus `matchExpressions`), as
//! used by MetalLB's node, namespace, service and pool selectors.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A `matchExpressions` operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operator {
    /// The label's value is one of `values`.
    In,
    /// The label is absent or its value is none of `values`.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

/// One `matchExpressions` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    /// Label key.
    pub key: String,
    /// Operator.
    pub operator: Operator,
    /// Values for `In` and `NotIn`.
    #[serde(default)]
    pub values: Vec<String>,
}

/// A label selector. The empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelSelector {
    /// Exact key/value pairs, all required.
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    /// Expressions, all required.
    #[serde(default)]
    pub match_expressions: Vec<Requirement>,
}

impl LabelSelector {
    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let got = labels.get(&r.key);
                match r.operator {
                    Operator::In => got.is_some_and(|v| r.values.contains(v)),
                    Operator::NotIn => got.is_none_or(|v| !r.values.contains(v)),
                    Operator::Exists => got.is_some(),
                    Operator::DoesNotExist => got.is_none(),
                }
            })
    }

    /// Whether this selector matches everything.
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }
}

/// MetalLB's rule for selector lists: empty matches all, otherwise any one (OR).
pub fn any_matches(selectors: &[LabelSelector], labels: &BTreeMap<String, String>) -> bool {
    selectors.is_empty() || selectors.iter().any(|s| s.matches(labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn selector_semantics() {
        let s = LabelSelector {
            match_labels: labels(&[("rack", "r1")]),
            match_expressions: vec![Requirement {
                key: "role".into(),
                operator: Operator::NotIn,
                values: vec!["master".into()],
            }],
        };
        assert!(s.matches(&labels(&[("rack", "r1")])));
        assert!(!s.matches(&labels(&[("rack", "r1"), ("role", "master")])));
        assert!(!s.matches(&labels(&[("rack", "r2")])));
        assert!(any_matches(&[], &labels(&[])));
    }
}
