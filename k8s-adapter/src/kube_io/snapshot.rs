//! A consistent-enough copy of every store, and its conversions into what
//! the pure decision code takes.

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::DynamicObject;
use serde_json::Value;

use crate::config::{self, Config, ConfigError, ConfigErrors, PasswordSource};
use crate::world::World;

/// The secret type MetalLB requires for `passwordSecret`.
const BASIC_AUTH: &str = "kubernetes.io/basic-auth";

/// Every object the reflectors hold at one moment, each list ordered by
/// namespace and name (custom resources by kind first).
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// The change generation this snapshot was taken at (see
    /// [`super::Reflectors::subscribe`]).
    pub generation: u64,
    /// MetalLB's namespace (where Secrets, the ConfigMap and the custom
    /// resources were read).
    pub namespace: String,
    /// Services.
    pub services: Vec<Service>,
    /// EndpointSlices.
    pub endpoint_slices: Vec<EndpointSlice>,
    /// Nodes.
    pub nodes: Vec<Node>,
    /// Namespaces.
    pub namespaces: Vec<Namespace>,
    /// Secrets of MetalLB's namespace.
    pub secrets: Vec<Secret>,
    /// The legacy configuration ConfigMap (zero or one).
    pub config_maps: Vec<ConfigMap>,
    /// `metallb.io` configuration resources, `apiVersion`/`kind` set.
    pub custom_resources: Vec<DynamicObject>,
}

/// Why a peer's password could not be resolved from a Secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// No such Secret in MetalLB's namespace.
    #[error("secret {namespace}/{name} not found")]
    NotFound {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// The Secret is in another namespace than MetalLB's (not watched).
    #[error("secret {namespace}/{name} is outside namespace {watched}, the only one read")]
    OtherNamespace {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// MetalLB's namespace.
        watched: String,
    },
    /// The Secret is not of type `kubernetes.io/basic-auth`.
    #[error("secret {name} has type {type_:?}, expected \"kubernetes.io/basic-auth\"")]
    WrongType {
        /// Name.
        name: String,
        /// Its type.
        type_: String,
    },
    /// The Secret has no `password` key.
    #[error("secret {name} has no \"password\" key")]
    NoPassword {
        /// Name.
        name: String,
    },
    /// The password is not UTF-8.
    #[error("secret {name}: password is not valid UTF-8")]
    NotUtf8 {
        /// Name.
        name: String,
    },
}

fn sort_key(m: &ObjectMeta) -> (String, String) {
    (
        m.namespace.clone().unwrap_or_default(),
        m.name.clone().unwrap_or_default(),
    )
}

impl Snapshot {
    /// Orders every list (namespace, name; custom resources by kind first).
    pub fn sort(&mut self) {
        self.services.sort_by_key(|o| sort_key(&o.metadata));
        self.endpoint_slices.sort_by_key(|o| sort_key(&o.metadata));
        self.nodes.sort_by_key(|o| sort_key(&o.metadata));
        self.namespaces.sort_by_key(|o| sort_key(&o.metadata));
        self.secrets.sort_by_key(|o| sort_key(&o.metadata));
        self.config_maps.sort_by_key(|o| sort_key(&o.metadata));
        self.custom_resources.sort_by_key(|o| {
            let kind = o.types.as_ref().map(|t| t.kind.clone()).unwrap_or_default();
            (kind, sort_key(&o.metadata))
        });
    }

    /// The Services, EndpointSlices, Nodes and Namespaces as a [`World`].
    pub fn world(&self) -> World {
        World::from_objects(
            self.services.iter().cloned(),
            self.endpoint_slices.iter().cloned(),
            self.nodes.iter().cloned(),
            self.namespaces.iter().cloned(),
        )
    }

    /// The configuration objects (the ConfigMap, then the custom resources)
    /// as JSON values with `apiVersion` and `kind`, `metadata.managedFields`
    /// removed.
    pub fn config_documents(&self) -> Vec<Value> {
        let mut docs = Vec::new();
        for cm in &self.config_maps {
            // k8s-openapi writes apiVersion and kind itself.
            if let Ok(mut v) = serde_json::to_value(cm) {
                strip_managed_fields(&mut v);
                docs.push(v);
            }
        }
        for cr in &self.custom_resources {
            if let Ok(mut v) = serde_json::to_value(cr) {
                strip_managed_fields(&mut v);
                docs.push(v);
            }
        }
        docs
    }

    /// The configuration as the multi-document text
    /// [`crate::config::load_str`] takes: one JSON document per object,
    /// separated by `---` lines (JSON is YAML).
    pub fn config_text(&self) -> String {
        let mut out = String::new();
        for doc in self.config_documents() {
            out.push_str("---\n");
            out.push_str(&doc.to_string());
            out.push('\n');
        }
        out
    }

    /// Parses and validates the configuration (an empty one when there are
    /// no configuration objects).
    pub fn load_config(&self) -> Result<Config, ConfigErrors> {
        config::load_str(&self.config_text())
    }

    /// [`Self::load_config`] with the parser's warnings.
    pub fn load_config_with_warnings(&self) -> Result<(Config, Vec<ConfigError>), ConfigErrors> {
        config::load_str_with_warnings(&self.config_text())
    }

    /// A Secret of MetalLB's namespace by name.
    pub fn secret(&self, name: &str) -> Option<&Secret> {
        self.secrets
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(name))
    }

    /// A peer's MD5 password: the inline one, or key `password` of a
    /// `kubernetes.io/basic-auth` Secret in MetalLB's namespace (as MetalLB
    /// requires).
    pub fn password(&self, source: &PasswordSource) -> Result<String, PasswordError> {
        let (name, namespace) = match source {
            PasswordSource::Inline(p) => return Ok(p.clone()),
            PasswordSource::Secret { name, namespace } => (name, namespace),
        };
        if let Some(ns) = namespace.as_deref().filter(|ns| *ns != self.namespace) {
            return Err(PasswordError::OtherNamespace {
                namespace: ns.to_owned(),
                name: name.clone(),
                watched: self.namespace.clone(),
            });
        }
        let Some(secret) = self.secret(name) else {
            return Err(PasswordError::NotFound {
                namespace: self.namespace.clone(),
                name: name.clone(),
            });
        };
        let type_ = secret.type_.clone().unwrap_or_default();
        if type_ != BASIC_AUTH {
            return Err(PasswordError::WrongType {
                name: name.clone(),
                type_,
            });
        }
        let bytes = secret
            .data
            .as_ref()
            .and_then(|d| d.get("password"))
            .ok_or_else(|| PasswordError::NoPassword { name: name.clone() })?;
        String::from_utf8(bytes.0.clone())
            .map_err(|_| PasswordError::NotUtf8 { name: name.clone() })
    }
}

fn strip_managed_fields(v: &mut Value) {
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
}

impl From<&Snapshot> for World {
    fn from(s: &Snapshot) -> Self {
        s.world()
    }
}

impl From<Snapshot> for World {
    fn from(s: Snapshot) -> Self {
        World::from_objects(s.services, s.endpoint_slices, s.nodes, s.namespaces)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;

    use super::*;

    fn secret(name: &str, type_: Option<&str>, password: Option<&[u8]>) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some("metallb-system".to_owned()),
                ..ObjectMeta::default()
            },
            type_: type_.map(str::to_owned),
            data: password
                .map(|p| BTreeMap::from([("password".to_owned(), ByteString(p.to_vec()))])),
            ..Secret::default()
        }
    }

    fn from_secret(name: &str, namespace: Option<&str>) -> PasswordSource {
        PasswordSource::Secret {
            name: name.to_owned(),
            namespace: namespace.map(str::to_owned),
        }
    }

    #[test]
    fn passwords_resolve_as_metallb_requires() {
        let snap = Snapshot {
            namespace: "metallb-system".to_owned(),
            secrets: vec![
                secret("ok", Some(BASIC_AUTH), Some(b"pw")),
                secret("opaque", Some("Opaque"), Some(b"pw")),
                secret("empty", Some(BASIC_AUTH), None),
                secret("binary", Some(BASIC_AUTH), Some(&[0xff, 0xfe])),
            ],
            ..Snapshot::default()
        };
        assert_eq!(
            snap.password(&PasswordSource::Inline("x".into())),
            Ok("x".into())
        );
        assert_eq!(snap.password(&from_secret("ok", None)), Ok("pw".into()));
        assert_eq!(
            snap.password(&from_secret("ok", Some("metallb-system"))),
            Ok("pw".into())
        );
        assert!(matches!(
            snap.password(&from_secret("ok", Some("default"))),
            Err(PasswordError::OtherNamespace { .. })
        ));
        assert!(matches!(
            snap.password(&from_secret("missing", None)),
            Err(PasswordError::NotFound { .. })
        ));
        assert!(matches!(
            snap.password(&from_secret("opaque", None)),
            Err(PasswordError::WrongType { .. })
        ));
        assert!(matches!(
            snap.password(&from_secret("empty", None)),
            Err(PasswordError::NoPassword { .. })
        ));
        assert!(matches!(
            snap.password(&from_secret("binary", None)),
            Err(PasswordError::NotUtf8 { .. })
        ));
    }

    #[test]
    fn no_configuration_objects_is_an_empty_configuration() {
        let snap = Snapshot::default();
        assert_eq!(snap.config_text(), "");
        let config = snap.load_config().unwrap_or_else(|e| panic!("{e}"));
        assert!(config.pools.is_empty() && config.peers.is_empty());
    }
}
