//! The three API models (the same compacted botocore JSON the wire layer validates against),
//! read as plain JSON: the fuzzer walks the shapes itself, so a bug in the wire layer's reading
//! of the model cannot hide from it.

use serde_json::{Map, Value};
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKind {
    /// cognito-idp, JSON 1.1 by `X-Amz-Target`.
    UserPools,
    /// cognito-identity, JSON 1.1 by `X-Amz-Target`.
    Identity,
    /// cognito-sync, REST-JSON by method and path.
    Sync,
}

impl ServiceKind {
    pub fn signing_name(self) -> &'static str {
        match self {
            ServiceKind::UserPools => "cognito-idp",
            ServiceKind::Identity => "cognito-identity",
            ServiceKind::Sync => "cognito-sync",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub service: ServiceKind,
    pub name: String,
    pub input: Option<String>,
    /// Called without SigV4 (`authtype: none`).
    pub auth_none: bool,
    /// REST: (method, URI template).
    pub http: Option<(String, String)>,
    pub errors: Vec<String>,
}

pub struct Model {
    pub service: ServiceKind,
    pub target_prefix: String,
    pub operations: Vec<Operation>,
    shapes: Map<String, Value>,
}

impl Model {
    fn load(service: ServiceKind, json: &str) -> Model {
        let doc: Value = serde_json::from_str(json).unwrap_or_default();
        let target_prefix = doc["metadata"]["targetPrefix"].as_str().unwrap_or_default().to_string();
        let mut operations = vec![];
        if let Some(ops) = doc["operations"].as_object() {
            for (name, op) in ops {
                let http = op["http"]["method"].as_str().zip(op["http"]["requestUri"].as_str());
                operations.push(Operation {
                    service,
                    name: name.clone(),
                    input: op["input"].as_str().map(str::to_string),
                    auth_none: op["authtype"].as_str() == Some("none"),
                    http: http.map(|(m, u)| (m.to_string(), u.to_string())),
                    errors: op["errors"]
                        .as_array()
                        .map(|e| e.iter().filter_map(Value::as_str).map(str::to_string).collect())
                        .unwrap_or_default(),
                });
            }
        }
        let shapes = doc["shapes"].as_object().cloned().unwrap_or_default();
        Model { service, target_prefix, operations, shapes }
    }

    pub fn shape(&self, name: &str) -> Option<&Value> {
        self.shapes.get(name)
    }

    /// The three services' models.
    pub fn all() -> &'static [Model] {
        static MODELS: OnceLock<Vec<Model>> = OnceLock::new();
        MODELS.get_or_init(|| {
            vec![
                Model::load(ServiceKind::UserPools, include_str!("../../shared/wire/model/cognito-idp.json")),
                Model::load(
                    ServiceKind::Identity,
                    include_str!("../../shared/wire/model/cognito-identity.json"),
                ),
                Model::load(ServiceKind::Sync, include_str!("../../shared/wire/model/cognito-sync.json")),
            ]
        })
    }

    pub fn of(service: ServiceKind) -> &'static Model {
        let all = Model::all();
        all.iter().find(|m| m.service == service).unwrap_or(&all[0])
    }

    /// Every operation of the three services.
    pub fn operations() -> Vec<&'static Operation> {
        Model::all().iter().flat_map(|m| m.operations.iter()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_models_load() {
        let counts: Vec<usize> = Model::all().iter().map(|m| m.operations.len()).collect();
        assert!(counts.iter().all(|&n| n > 10), "{counts:?}");
        assert!(Model::of(ServiceKind::Sync).operations.iter().all(|o| o.http.is_some()));
        assert_eq!(Model::of(ServiceKind::UserPools).target_prefix, "AWSCognitoIdentityProviderService");
    }
}
