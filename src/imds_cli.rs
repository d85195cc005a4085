//! `imds`: query the metadata service from the shell (contract §7).
//! Arguments are processed in order, so flags affect the queries after them.

use crate::cloud::Cloud;
use crate::error::{Error, Result};
use crate::root::Root;
use crate::settings::Settings;
use std::ffi::OsString;
use std::io::Write;

const USAGE: &str = "\
usage: imds [-h] { -e | +e | -E | +E | +n | +s | +t | @ALIAS | PATH } ...

Queries the instance metadata service and prints each value in order.
  -e / +e   ignore / report errors of the queries that follow (+e is the default)
  -E / +E   hide / show error messages of the queries that follow
  +n +s +t  print a newline, a space, a tab
  @hostname @local-hostname @ssh-keys @userdata @nics
  @nic:IFACE[,@mac|@ipv4|@ipv6|@ipv4-net|@ipv6-net|@ipv4-prefix|@ipv6-prefix|PATH...]
  PATH      a cloud-relative metadata path, e.g. meta-data/instance-id
";

pub fn main(args: &[OsString]) -> i32 {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
        let to_stdout = !args.is_empty();
        if to_stdout {
            print!("{USAGE}");
            return 0;
        }
        eprint!("{USAGE}");
        return 1;
    }
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("imds: {e}");
            return 1;
        }
    };
    for w in &settings.warnings {
        eprintln!("imds: {w}");
    }
    let root = Root::new(settings.root.clone());
    let mut cloud = match crate::cloud::open(&settings, &root, false) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("imds: {e}");
            return 1;
        }
    };
    let mut out = std::io::stdout().lock();
    let mut report_errors = true;
    let mut show_errors = true;
    for arg in &args {
        match arg.as_str() {
            "-e" => report_errors = false,
            "+e" => report_errors = true,
            "-E" => show_errors = false,
            "+E" => show_errors = true,
            "+n" => {
                let _ = out.write_all(b"\n");
            }
            "+s" => {
                let _ = out.write_all(b" ");
            }
            "+t" => {
                let _ = out.write_all(b"\t");
            }
            query => match run_query(cloud.as_mut(), &root, query) {
                Ok(value) => {
                    let _ = out.write_all(&value);
                    if !value.is_empty() && !value.ends_with(b"\n") {
                        let _ = out.write_all(b"\n");
                    }
                }
                Err(e) => {
                    let _ = out.flush();
                    if show_errors {
                        eprintln!("imds: {query}: {e}");
                    }
                    if report_errors {
                        return 1;
                    }
                }
            },
        }
    }
    let _ = out.flush();
    0
}

fn run_query(cloud: &mut dyn Cloud, root: &Root, query: &str) -> Result<Vec<u8>> {
    match query {
        "@hostname" => Ok(cloud.hostname()?.into_bytes()),
        "@local-hostname" => Ok(cloud.local_hostname()?.into_bytes()),
        "@ssh-keys" => {
            let mut keys = cloud.ssh_keys()?;
            keys.sort();
            keys.dedup();
            Ok(keys
                .iter()
                .map(|k| format!("{k}\n"))
                .collect::<String>()
                .into_bytes())
        }
        "@userdata" => cloud.userdata(),
        "@nics" => cloud.nics(),
        q if q.starts_with("@nic:") => nic_query(cloud, root, &q[5..]),
        q if q.starts_with('@') => Err(Error::msg(format!("unknown alias {q}"))),
        path => cloud.query(path),
    }
}

/// `@nic:IFACE[,KEY…]`: each key of the interface's metadata, one per line.
fn nic_query(cloud: &mut dyn Cloud, root: &Root, spec: &str) -> Result<Vec<u8>> {
    let mut parts = spec.split(',');
    let iface = parts.next().unwrap_or("");
    if iface.is_empty() || iface.contains(['/', '.']) {
        return Err(Error::msg(format!("invalid interface name '{iface}'")));
    }
    let mac = root
        .read_value(&format!("/sys/class/net/{iface}/address"))
        .filter(|m| !m.is_empty())
        .ok_or_else(|| Error::msg(format!("no MAC address for interface {iface}")))?;
    let keys: Vec<&str> = parts.collect();
    if keys.is_empty() {
        return cloud.nic_query(&mac, "");
    }
    let mut out = Vec::new();
    for key in keys {
        let path = match key {
            "@mac" => "mac",
            "@ipv4" => "local-ipv4s",
            "@ipv6" => "ipv6s",
            "@ipv4-net" => "subnet-ipv4-cidr-block",
            "@ipv6-net" => "subnet-ipv6-cidr-blocks",
            "@ipv4-prefix" => "ipv4-prefix",
            "@ipv6-prefix" => "ipv6-prefix",
            k if k.starts_with('@') => return Err(Error::msg(format!("unknown nic alias {k}"))),
            k => k,
        };
        let value = cloud.nic_query(&mac, path)?;
        out.extend_from_slice(&value);
        if !value.ends_with(b"\n") {
            out.push(b'\n');
        }
    }
    Ok(out)
}
