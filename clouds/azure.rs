//! Azure: the Instance Metadata Service at `/metadata/instance`, which wants
//! `Metadata: true` and an `api-version` on every request. Hostname, keys and
//! user-data all live in the one JSON instance document, so it is fetched
//! once per process and read from memory afterwards.

use crate::cloud::{Cloud, CloudInfo, dmi};
use crate::error::{Error, Result};
use crate::imds::{Imds, ImdsSpec};
use crate::root::Root;
use crate::settings::Settings;
use serde_json::Value;

pub const INFO: CloudInfo = CloudInfo {
    name: "azure",
    detect,
    open,
};

/// The version that introduced `compute/userData`.
const API_VERSION: &str = "api-version=2021-05-01";

/// Azure's fixed chassis asset tag: "MSFT AZURE VM" as decimal ASCII codes.
const ASSET_TAG: &str = "7783-7084-3265-9085-8269-3286-77";

static SPEC: ImdsSpec = ImdsSpec {
    default_endpoint: "169.254.169.254",
    base: "/metadata/instance",
    headers: &[("Metadata", "true")],
    query: Some(API_VERSION),
    token: None,
    response_header: None,
};

fn detect(root: &Root) -> bool {
    dmi(root, "chassis_asset_tag").is_some_and(|t| t == ASSET_TAG)
}

fn open(settings: &Settings, _root: &Root) -> Result<Box<dyn Cloud>> {
    Ok(Box::new(Azure {
        imds: Imds::new(&SPEC, settings)?,
        doc: None,
    }))
}

struct Azure {
    imds: Imds,
    doc: Option<Value>,
}

impl Azure {
    fn doc(&mut self) -> Result<&Value> {
        if self.doc.is_none() {
            let body = self.imds.get("")?;
            let doc = serde_json::from_slice(&body).map_err(|e| {
                Error::msg(format!("Azure instance metadata is not valid JSON: {e}"))
            })?;
            self.doc = Some(doc);
        }
        self.doc
            .as_ref()
            .ok_or_else(|| Error::msg("Azure instance metadata missing"))
    }

    /// The string at `compute/<key>`; absent or empty is `NotFound`.
    fn compute_str(&mut self, key: &str) -> Result<String> {
        match self.doc()?.get("compute").and_then(|c| c.get(key)) {
            None | Some(Value::Null) => Err(not_found(key)),
            Some(Value::String(s)) if s.is_empty() => Err(not_found(key)),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(Error::msg(format!(
                "Azure instance metadata: compute/{key} is not a string"
            ))),
        }
    }
}

fn not_found(key: &str) -> Error {
    Error::NotFound(format!("Azure instance metadata compute/{key}"))
}

/// `compute/publicKeys` is a list of `{keyData, path}`; `keyData` may carry
/// a trailing CRLF or, pasted carelessly, several keys.
fn public_keys(doc: &Value) -> Result<Vec<String>> {
    let Some(list) = doc.get("compute").and_then(|c| c.get("publicKeys")) else {
        return Ok(Vec::new());
    };
    let list = match list {
        Value::Null => return Ok(Vec::new()),
        Value::Array(list) => list,
        _ => {
            return Err(Error::msg(
                "Azure instance metadata: compute/publicKeys is not a list",
            ));
        }
    };
    let mut keys = Vec::new();
    for entry in list {
        let Some(data) = entry.get("keyData") else {
            continue;
        };
        let data = data.as_str().ok_or_else(|| {
            Error::msg("Azure instance metadata: a publicKeys keyData is not a string")
        })?;
        keys.extend(
            data.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string),
        );
    }
    Ok(keys)
}

impl Cloud for Azure {
    fn name(&self) -> &'static str {
        "azure"
    }

    fn hostname(&mut self) -> Result<String> {
        self.compute_str("name")
    }

    fn ssh_keys(&mut self) -> Result<Vec<String>> {
        public_keys(self.doc()?)
    }

    fn userdata(&mut self) -> Result<Vec<u8>> {
        let text = self.compute_str("userData")?;
        crate::base64::decode(text.as_bytes())
            .map_err(|e| Error::msg(format!("Azure compute/userData: {e}")))
    }

    /// Leaves are asked for as text, which is what a shell caller wants
    /// (`format=text` gives a leaf's bare value); a path ending in `/` (or empty)
    /// asks for that subtree as JSON, and a caller's own `?…` is kept as is.
    fn query(&mut self, path: &str) -> Result<Vec<u8>> {
        if path.contains('?') {
            self.imds.get(path)
        } else if path.is_empty() || path.ends_with('/') {
            self.imds.get(path.trim_end_matches('/'))
        } else {
            self.imds.get(&format!("{path}?format=text"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_the_instance_document() {
        let doc: Value = serde_json::from_str(
            r#"{"compute": {"publicKeys": [
                {"keyData": "ssh-rsa AAAAone one\r\n", "path": "/home/a/.ssh/authorized_keys"},
                {"path": "/no/key"},
                {"keyData": "ssh-ed25519 AAAAtwo two\nssh-ed25519 AAAAthree three\n"}
            ]}}"#,
        )
        .unwrap();
        assert_eq!(
            public_keys(&doc).unwrap(),
            [
                "ssh-rsa AAAAone one",
                "ssh-ed25519 AAAAtwo two",
                "ssh-ed25519 AAAAthree three"
            ]
        );
        for empty in [
            r#"{}"#,
            r#"{"compute": {}}"#,
            r#"{"compute": {"publicKeys": []}}"#,
            r#"{"compute": {"publicKeys": null}}"#,
        ] {
            let doc: Value = serde_json::from_str(empty).unwrap();
            assert!(public_keys(&doc).unwrap().is_empty(), "{empty}");
        }
        for bad in [
            r#"{"compute": {"publicKeys": "ssh-rsa AAAA"}}"#,
            r#"{"compute": {"publicKeys": [{"keyData": 7}]}}"#,
        ] {
            let doc: Value = serde_json::from_str(bad).unwrap();
            assert!(public_keys(&doc).is_err(), "{bad}");
        }
    }
}
