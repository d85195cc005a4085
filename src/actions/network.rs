//! Network actions: picking the interface, `/etc/network/interfaces`,
//! `/etc/resolv.conf`, and a temporary DHCP lease when metadata needs one.

use super::Ctx;
use crate::error::Result;
use crate::exec;
use crate::root::{FileSpec, Root};
use std::time::{Duration, Instant};

/// `eth*` interfaces under /sys/class/net, ordered by ifindex.
fn ethernets(root: &Root) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root.path("/sys/class/net")) else {
        return Vec::new();
    };
    let mut found: Vec<(u64, String)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with("eth") {
                return None;
            }
            let index = root
                .read_value(&format!("/sys/class/net/{name}/ifindex"))
                .and_then(|v| v.parse().ok())
                .unwrap_or(u64::MAX);
            Some((index, name))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, n)| n).collect()
}

fn is_up(root: &Root, iface: &str) -> bool {
    root.read_value(&format!("/sys/class/net/{iface}/operstate"))
        .as_deref()
        == Some("up")
}

/// Brings every ethernet up, waits (up to `TINY_CLOUD_LINK_WAIT_MAX` tenths
/// of a second) for one to report a link, keeps that one (else the first)
/// and sets the others down again.
fn choose_interface(ctx: &Ctx) -> Result<Option<String>> {
    let ifaces = ethernets(&ctx.root);
    if ifaces.is_empty() {
        return Ok(None);
    }
    for i in &ifaces {
        exec::run("ip", &["link", "set", "dev", i, "up"], None)?;
    }
    let wait = Duration::from_millis(100 * u64::from(ctx.settings.link_wait_max));
    let start = Instant::now();
    let chosen = loop {
        if let Some(up) = ifaces.iter().find(|i| is_up(&ctx.root, i)) {
            break up.clone();
        }
        if start.elapsed() >= wait {
            break ifaces[0].clone();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    for i in ifaces.iter().filter(|i| **i != chosen) {
        exec::run("ip", &["link", "set", "dev", i, "down"], None)?;
    }
    Ok(Some(chosen))
}

/// Only for clouds whose metadata is behind the network (NoCloud over http)
/// while no address exists yet.
pub fn set_ephemeral_network(ctx: &mut Ctx) -> Result<()> {
    if !ctx.cloud.needs_ephemeral_network(&ctx.root)? {
        ctx.note("not needed");
        return Ok(());
    }
    let Some(iface) = choose_interface(ctx)? else {
        ctx.warn("no ethernet interface found");
        return Ok(());
    };
    ctx.note(&format!("requesting a DHCP lease on {iface}"));
    exec::run("udhcpc", &["-i", &iface, "-f", "-q"], None)
}

pub fn set_default_interfaces(ctx: &mut Ctx) -> Result<()> {
    let path = ctx.root.path("/etc/network/interfaces");
    if path.exists() {
        ctx.note("already set up");
        return Ok(());
    }
    write_default_interfaces(ctx)
}

fn write_default_interfaces(ctx: &mut Ctx) -> Result<()> {
    let mut text = String::from("auto lo\niface lo inet loopback\n\n");
    match choose_interface(ctx)? {
        Some(iface) => {
            text.push_str(&format!("auto {iface}\niface {iface}\n\tuse dhcp\n"));
            ctx.note(&format!("using {iface} with DHCP"));
        }
        None => ctx.warn("no ethernet interface found; only loopback configured"),
    }
    ctx.root.write(
        &ctx.root.path("/etc/network/interfaces"),
        text.as_bytes(),
        FileSpec::mode(0o644),
    )
}

/// NoCloud: the seed's `network-interfaces` verbatim, else the default;
/// static setups also get the seed's name servers.
pub fn set_network_interfaces(ctx: &mut Ctx) -> Result<()> {
    let path = ctx.root.path("/etc/network/interfaces");
    match ctx.cloud.network_interfaces()? {
        Some(text) => {
            ctx.root
                .write(&path, text.as_bytes(), FileSpec::mode(0o644))?;
            ctx.note("written from meta-data network-interfaces");
        }
        None if path.exists() => ctx.note("already set up"),
        None => write_default_interfaces(ctx)?,
    }
    let current = ctx.root.read_opt(&path)?.unwrap_or_default();
    if current.contains("dhcp") {
        return Ok(());
    }
    let servers = ctx.cloud.nameservers()?;
    if servers.is_empty() {
        return Ok(());
    }
    let mut lines = Vec::new();
    for s in &servers {
        // Only addresses: anything else could smuggle lines into resolv.conf.
        if s.parse::<std::net::IpAddr>().is_err() {
            return Err(crate::error::Error::msg(format!(
                "invalid name server '{s}' in meta-data"
            )));
        }
        lines.push(format!("nameserver {s}"));
    }
    let added = ctx.root.add_lines(
        &ctx.root.path("/etc/resolv.conf"),
        &lines,
        FileSpec::mode(0o644),
    )?;
    ctx.note(&format!("{added} name server(s) added to /etc/resolv.conf"));
    Ok(())
}
