//! AWS EC2: IMDSv2 (a session token from `PUT /latest/api/token`, sent on
//! every request), falling back to IMDSv1 only when the token endpoint does
//! not exist.

use crate::cloud::{Cloud, CloudInfo, dmi};
use crate::error::{Error, Result, optional};
use crate::imds::{Imds, ImdsSpec, TokenSpec};
use crate::root::Root;
use crate::settings::Settings;

pub const INFO: CloudInfo = CloudInfo {
    name: "aws",
    detect,
    open,
};

static SPEC: ImdsSpec = ImdsSpec {
    default_endpoint: "169.254.169.254",
    base: "/latest/",
    headers: &[],
    query: None,
    token: Some(TokenSpec {
        path: "/latest/api/token",
        ttl_header: "X-aws-ec2-metadata-token-ttl-seconds",
        header: "X-aws-ec2-metadata-token",
    }),
    response_header: None,
};

fn detect(root: &Root) -> bool {
    let vendor = |key| dmi(root, key).is_some_and(|v| v == "Amazon EC2");
    vendor("sys_vendor")
        || vendor("bios_vendor")
        || dmi(root, "product_uuid").is_some_and(|u| u.to_ascii_lowercase().starts_with("ec2"))
}

fn open(settings: &Settings, _root: &Root) -> Result<Box<dyn Cloud>> {
    Ok(Box::new(Aws {
        imds: Imds::new(&SPEC, settings)?,
    }))
}

struct Aws {
    imds: Imds,
}

impl Cloud for Aws {
    fn name(&self) -> &'static str {
        "aws"
    }

    fn hostname(&mut self) -> Result<String> {
        self.imds.get_text("meta-data/hostname")
    }

    fn local_hostname(&mut self) -> Result<String> {
        self.imds.get_text("meta-data/local-hostname")
    }

    fn ssh_keys(&mut self) -> Result<Vec<String>> {
        let Some(listing) = optional(self.imds.get_text("meta-data/public-keys/"))? else {
            return Ok(Vec::new());
        };
        let mut keys = Vec::new();
        // Each line is `N=key-name`; the key itself lives under `N/openssh-key`.
        for line in listing.lines() {
            let Some((index, _name)) = line.split_once('=') else {
                continue;
            };
            if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::msg(format!("unexpected public-keys entry '{line}'")));
            }
            let key = self
                .imds
                .get_text(&format!("meta-data/public-keys/{index}/openssh-key"))?;
            keys.extend(
                key.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string),
            );
        }
        Ok(keys)
    }

    fn userdata(&mut self) -> Result<Vec<u8>> {
        self.imds.get("user-data")
    }

    fn query(&mut self, path: &str) -> Result<Vec<u8>> {
        self.imds.get(path)
    }

    fn nics(&mut self) -> Result<Vec<u8>> {
        self.imds.get("meta-data/network/interfaces/macs/")
    }

    fn nic_query(&mut self, mac: &str, key: &str) -> Result<Vec<u8>> {
        self.imds
            .get(&format!("meta-data/network/interfaces/macs/{mac}/{key}"))
    }
}
