//! Oracle Cloud Infrastructure: IMDS v2 at `/opc/v2/`, which only answers
//! requests carrying `Authorization: Bearer Oracle` (a fixed value whose
//! point is that a forwarded request from an SSRF'd web app lacks it).
//! User-data is stored base64-encoded.

use crate::cloud::{Cloud, CloudInfo, dmi};
use crate::error::{Error, Result, optional};
use crate::imds::{Imds, ImdsSpec};
use crate::root::Root;
use crate::settings::Settings;

pub const INFO: CloudInfo = CloudInfo {
    name: "oci",
    detect,
    open,
};

static SPEC: ImdsSpec = ImdsSpec {
    default_endpoint: "169.254.169.254",
    base: "/opc/v2/",
    headers: &[("Authorization", "Bearer Oracle")],
    query: None,
    token: None,
    response_header: None,
};

fn detect(root: &Root) -> bool {
    dmi(root, "chassis_asset_tag").is_some_and(|t| t == "OracleCloud.com")
}

fn open(settings: &Settings, _root: &Root) -> Result<Box<dyn Cloud>> {
    Ok(Box::new(Oci {
        imds: Imds::new(&SPEC, settings)?,
    }))
}

struct Oci {
    imds: Imds,
}

impl Cloud for Oci {
    fn name(&self) -> &'static str {
        "oci"
    }

    fn hostname(&mut self) -> Result<String> {
        self.imds.get_text("instance/hostname")
    }

    fn ssh_keys(&mut self) -> Result<Vec<String>> {
        let Some(text) = optional(self.imds.get_text("instance/metadata/ssh_authorized_keys"))?
        else {
            return Ok(Vec::new());
        };
        Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect())
    }

    fn userdata(&mut self) -> Result<Vec<u8>> {
        let raw = self.imds.get("instance/metadata/user_data")?;
        crate::base64::decode(&raw)
            .map_err(|e| Error::msg(format!("OCI instance/metadata/user_data: {e}")))
    }

    fn query(&mut self, path: &str) -> Result<Vec<u8>> {
        self.imds.get(path)
    }
}
