//! Google Compute Engine: the metadata server at `/computeMetadata/v1/`.
//! Requests carry `Metadata-Flavor: Google` and genuine answers carry it
//! back, which is how a lookalike server on the link-local address is told
//! apart. SSH keys come from project and instance attributes, unless the
//! instance blocks the project's.

use crate::cloud::{Cloud, CloudInfo, dmi};
use crate::error::{Result, optional};
use crate::imds::{Imds, ImdsSpec};
use crate::root::Root;
use crate::settings::Settings;

pub const INFO: CloudInfo = CloudInfo {
    name: "gcp",
    detect,
    open,
};

static SPEC: ImdsSpec = ImdsSpec {
    default_endpoint: "169.254.169.254",
    base: "/computeMetadata/v1/",
    headers: &[("Metadata-Flavor", "Google")],
    query: None,
    token: None,
    response_header: Some(("Metadata-Flavor", "Google")),
};

fn detect(root: &Root) -> bool {
    dmi(root, "product_name").is_some_and(|p| p == "Google Compute Engine")
}

fn open(settings: &Settings, _root: &Root) -> Result<Box<dyn Cloud>> {
    Ok(Box::new(Gcp {
        imds: Imds::new(&SPEC, settings)?,
    }))
}

struct Gcp {
    imds: Imds,
}

/// The keys of an `ssh-keys` attribute: `USER:KEY` lines, the user dropped.
/// A line whose part before the first `:` has a space is taken to be a bare
/// key with a colon in its comment, and kept whole.
fn parse_ssh_keys(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| match line.split_once(':') {
            Some((user, key)) if !user.contains(char::is_whitespace) => key.trim(),
            _ => line,
        })
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect()
}

impl Cloud for Gcp {
    fn name(&self) -> &'static str {
        "gcp"
    }

    fn hostname(&mut self) -> Result<String> {
        self.imds.get_text("instance/hostname")
    }

    fn ssh_keys(&mut self) -> Result<Vec<String>> {
        // Every attribute is optional: a 404 just means nobody set it.
        let blocked = optional(
            self.imds
                .get_text("instance/attributes/block-project-ssh-keys"),
        )?
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let mut keys = Vec::new();
        if !blocked {
            if let Some(text) = optional(self.imds.get_text("project/attributes/ssh-keys"))? {
                keys.extend(parse_ssh_keys(&text));
            }
        }
        if let Some(text) = optional(self.imds.get_text("instance/attributes/ssh-keys"))? {
            keys.extend(parse_ssh_keys(&text));
        }
        Ok(keys)
    }

    fn userdata(&mut self) -> Result<Vec<u8>> {
        self.imds.get("instance/attributes/user-data")
    }

    fn query(&mut self, path: &str) -> Result<Vec<u8>> {
        self.imds.get(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_keys_attribute() {
        let text = "alice:ssh-ed25519 AAAAalice alice@example\r\n\
                    \n\
                    bob:ssh-rsa AAAAbob google-ssh {\"userName\":\"bob\",\"expireOn\":\"2030-01-01T00:00:00+0000\"}\n\
                    ssh-rsa AAAAbare comment:with-colon\n\
                    carol:\n\
                    :ssh-ed25519 AAAAnouser\n";
        assert_eq!(
            parse_ssh_keys(text),
            [
                "ssh-ed25519 AAAAalice alice@example",
                "ssh-rsa AAAAbob google-ssh {\"userName\":\"bob\",\"expireOn\":\"2030-01-01T00:00:00+0000\"}",
                "ssh-rsa AAAAbare comment:with-colon",
                "ssh-ed25519 AAAAnouser",
            ]
        );
        assert!(parse_ssh_keys("").is_empty());
        assert!(parse_ssh_keys("\n \n").is_empty());
    }
}
