//! NoCloud: metadata from files instead of a metadata service.
//!
//! Where the seed comes from, in this order:
//! 1. `ds=nocloud[-net];k=v;…` in the DMI product serial and on the kernel
//!    command line gives keys (`h`/`local-hostname`, `i`/`instance-id`,
//!    `s`/`seedfrom`). The keys override the seed's `meta-data`, and the
//!    DMI serial's override the command line's, as in cloud-init.
//! 2. `seedfrom` names the seed files' directory: a path or `file://` URL
//!    (both under ROOT), or an `http://` URL fetched with the IMDS client.
//! 3. Without `seedfrom`, a `cidata`/`CIDATA` labelled vfat or iso9660
//!    volume, mounted read-only just long enough to copy the files.
//! 4. `ds=nocloud` keys alone are a valid (file-less) seed too.
//!
//! The seed's files are kept in `$TINY_CLOUD_VAR` so that the later phases
//! of the same boot (and `imds` once bootstrapped) read those copies instead
//! of mounting or fetching again; see `copies_current`.

use crate::cloud::{Cloud, CloudInfo, dmi};
use crate::config::yaml::{self, Node, Scalar, Value};
use crate::error::{Error, IoContext, Result, optional};
use crate::exec;
use crate::imds::{Imds, MAX_BODY};
use crate::root::{FileSpec, Owner, Root};
use crate::settings::Settings;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const INFO: CloudInfo = CloudInfo {
    name: "nocloud",
    detect,
    open,
};

/// The seed's files, in the order they are kept. `meta-data` is required of
/// any seed with files, as cloud-init requires it (it may be empty).
const FILES: [&str; 4] = ["meta-data", "user-data", "vendor-data", "network-config"];
const META: usize = 0;
const USER: usize = 1;
const LABELS: [&str; 2] = ["cidata", "CIDATA"];
/// Says which boot the kept copies belong to, and where they came from.
const STAMP: &str = ".nocloud-seed";
const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

fn detect(root: &Root) -> bool {
    ds_keys(root).is_some() || find_volume(root).is_some()
}

fn open(settings: &Settings, root: &Root) -> Result<Box<dyn Cloud>> {
    Ok(Box::new(NoCloud {
        settings: settings.clone(),
        root: root.clone(),
        seed: None,
    }))
}

/// Parses `ds=nocloud[;k=v;…]` / `ds=nocloud-net[;…]` out of a kernel
/// command line (or a DMI serial, which uses the same form). `None` when
/// there is no such token; the last one wins, as the kernel's own
/// parameters do. Short keys are spelled out; items without `=` are ignored.
pub fn parse_ds(text: &str) -> Option<Vec<(String, String)>> {
    let mut found = None;
    for token in text.split_whitespace() {
        let Some(rest) = token.strip_prefix("ds=") else {
            continue;
        };
        let rest = match rest.strip_prefix("nocloud-net") {
            Some(r) => r,
            None => match rest.strip_prefix("nocloud") {
                Some(r) => r,
                None => continue,
            },
        };
        if !rest.is_empty() && !rest.starts_with(';') {
            continue; // e.g. `ds=nocloudx`
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        for item in rest.split(';').filter(|i| !i.is_empty()) {
            let Some((key, value)) = item.split_once('=') else {
                continue;
            };
            let key = match key {
                "h" => "local-hostname",
                "i" => "instance-id",
                "s" => "seedfrom",
                k => k,
            };
            pairs.retain(|(k, _)| k != key);
            pairs.push((key.to_string(), value.to_string()));
        }
        found = Some(pairs);
    }
    found
}

/// The `ds=nocloud` keys of this machine, or `None` when neither the
/// command line nor the DMI serial names NoCloud.
fn ds_keys(root: &Root) -> Option<Vec<(String, String)>> {
    let cmdline = std::fs::read_to_string(root.path("/proc/cmdline"))
        .ok()
        .and_then(|t| parse_ds(&t));
    let serial = dmi(root, "product_serial").and_then(|t| parse_ds(&t));
    match (cmdline, serial) {
        (None, None) => None,
        (c, s) => {
            let mut keys = c.unwrap_or_default();
            for (k, v) in s.unwrap_or_default() {
                keys.retain(|(key, _)| *key != k);
                keys.push((k, v));
            }
            Some(keys)
        }
    }
}

fn key<'a>(keys: &'a [(String, String)], name: &str) -> Option<&'a str> {
    keys.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Runs a query program (`findfs`, `blkid`, `ip`): `None` when it cannot
/// be run at all, else its stdout when it succeeded with some output. Its
/// stderr is dropped: "not found" is an expected answer, not news.
fn probe(program: &str, args: &[&str]) -> Option<Option<String>> {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stderr(Stdio::null());
    let out = exec::output_of(&mut cmd, program).ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Some((out.status.success() && !text.is_empty()).then_some(text))
}

/// A `cidata`/`CIDATA` labelled volume.
struct Volume {
    label: &'static str,
    device: String,
}

/// Finds the seed volume: udev's `/dev/disk/by-label` links need no
/// fork; Alpine's mdev makes none, so then `findfs` (busybox and
/// util-linux), or util-linux `blkid -t` when there is no `findfs`.
fn find_volume(root: &Root) -> Option<Volume> {
    for label in LABELS {
        let link = root.path(&format!("/dev/disk/by-label/{label}"));
        if std::fs::symlink_metadata(&link).is_ok() {
            return Some(Volume {
                label,
                device: link.to_string_lossy().into_owned(),
            });
        }
    }
    let mut have_findfs = false;
    for label in LABELS {
        if let Some(answer) = probe("findfs", &[&format!("LABEL={label}")]) {
            have_findfs = true;
            if let Some(device) = answer.and_then(|t| t.lines().next().map(str::to_string)) {
                return Some(Volume { label, device });
            }
        }
    }
    if have_findfs {
        return None;
    }
    for label in LABELS {
        let answer = probe("blkid", &["-t", &format!("LABEL={label}"), "-o", "device"]);
        if let Some(device) = answer
            .flatten()
            .and_then(|t| t.lines().next().map(str::to_string))
        {
            return Some(Volume { label, device });
        }
    }
    None
}

/// The filesystem type `blkid DEV` reports (`… TYPE="vfat" …`), if any.
fn volume_type(device: &str) -> Option<String> {
    let out = probe("blkid", &[device]).flatten()?;
    out.split_whitespace().find_map(|field| {
        field
            .strip_prefix("TYPE=\"")
            .and_then(|v| v.strip_suffix('"'))
            .map(str::to_string)
    })
}

/// Whether any interface has an IPv4 address other than loopback. Reads
/// the kernel's routing trie (no fork); only without it asks `ip`.
fn has_ipv4(root: &Root) -> bool {
    match std::fs::read_to_string(root.path("/proc/net/fib_trie")) {
        Ok(text) => fib_trie_has_address(&text),
        Err(_) => probe("ip", &["-4", "-o", "addr", "show"])
            .flatten()
            .is_some_and(|out| {
                out.lines().any(|line| {
                    line.split_whitespace()
                        .skip_while(|w| *w != "inet")
                        .nth(1)
                        .and_then(|a| a.split('/').next()?.parse::<std::net::Ipv4Addr>().ok())
                        .is_some_and(|a| !a.is_loopback())
                })
            }),
    }
}

/// In `/proc/net/fib_trie` every local address is a `|-- ADDR` line
/// followed by a `/32 host LOCAL` line.
fn fib_trie_has_address(text: &str) -> bool {
    let mut last: Option<std::net::Ipv4Addr> = None;
    for line in text.lines() {
        let line = line.trim_start();
        if let Some(addr) = line.strip_prefix("|-- ") {
            last = addr.trim().parse().ok();
        } else if line.starts_with("/32 host LOCAL") && last.is_some_and(|a| !a.is_loopback()) {
            return true;
        }
    }
    false
}

/// Where this boot's seed files come from.
enum Source {
    /// A directory under ROOT (`s=/path` or `s=file:///path`).
    Dir(String),
    Http(String),
    Volume(Volume),
    /// `ds=nocloud` keys, no files.
    KeysOnly,
}

impl Source {
    fn find(root: &Root, keys: Option<&[(String, String)]>) -> Result<Source> {
        if let Some(seed) = keys.and_then(|k| key(k, "seedfrom")) {
            return Source::from_seedfrom(seed);
        }
        if let Some(volume) = find_volume(root) {
            return Ok(Source::Volume(volume));
        }
        if keys.is_some() {
            return Ok(Source::KeysOnly);
        }
        Err(Error::msg(
            "no NoCloud seed: no ds=nocloud in /proc/cmdline or the DMI product serial, \
             and no volume labelled cidata or CIDATA",
        ))
    }

    fn from_seedfrom(seed: &str) -> Result<Source> {
        if seed.starts_with("https://") {
            return Err(Error::msg(format!(
                "seedfrom {seed}: https seeds need TLS, which this build does not include"
            )));
        }
        if seed.starts_with("http://") {
            return Ok(Source::Http(seed.to_string()));
        }
        let path = seed.strip_prefix("file://").unwrap_or(seed);
        if !path.starts_with('/') {
            return Err(Error::msg(format!(
                "seedfrom '{seed}': expected an absolute path, file:// or http:// URL"
            )));
        }
        Ok(Source::Dir(path.to_string()))
    }

    fn describe(&self) -> String {
        match self {
            Source::Dir(p) => p.clone(),
            Source::Http(u) => u.clone(),
            Source::Volume(v) => format!("{} (LABEL={})", v.device, v.label),
            Source::KeysOnly => "ds=nocloud keys".to_string(),
        }
    }
}

type Files = [Option<Vec<u8>>; 4];

/// Reads a seed file, refusing anything but a regular file (a symlink on a
/// seed volume must not make us copy, say, `/etc/shadow`).
fn read_seed_file(path: &Path) -> Result<Option<Vec<u8>>> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).at("read", path),
    };
    if !meta.is_file() {
        return Err(Error::msg(format!(
            "{}: not a regular file",
            path.display()
        )));
    }
    let mut data = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_BODY as u64 + 1).read_to_end(&mut data))
        .at("read", path)?;
    if data.len() > MAX_BODY {
        return Err(Error::msg(format!(
            "{}: larger than {MAX_BODY} bytes",
            path.display()
        )));
    }
    Ok(Some(data))
}

fn read_dir_files(dir: &Path) -> Result<Files> {
    let mut files: Files = Default::default();
    for (slot, name) in files.iter_mut().zip(FILES) {
        *slot = read_seed_file(&dir.join(name))?;
    }
    Ok(files)
}

fn fetch_files(url: &str, settings: &Settings) -> Result<Files> {
    let mut client = Imds::from_url(url, settings)?;
    let mut files: Files = Default::default();
    for (slot, name) in files.iter_mut().zip(FILES) {
        *slot = optional(client.get(name))?;
    }
    Ok(files)
}

/// Runs `program args…` with its stderr captured into the error, so a
/// failed attempt is one clear line rather than a stray message.
fn run_captured(program: &str, args: &[&str]) -> Result<()> {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stderr(Stdio::piped());
    let out = exec::output_of(&mut cmd, program)?;
    exec::check_status(program, args, out.status).map_err(|err| {
        let said = String::from_utf8_lossy(&out.stderr);
        match said.lines().map(str::trim).find(|l| !l.is_empty()) {
            Some(line) => Error::msg(format!("{err}: {line}")),
            None => err,
        }
    })
}

/// A fresh private directory under `$ROOT/run/tiny-cloud` to mount on.
fn mount_dir(root: &Root) -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let parent = root.path("/run/tiny-cloud");
    root.create_dir_all(&parent)?;
    for n in 0..100 {
        let dir = parent.join(format!("cidata.{}.{n}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).at("create directory", &dir),
        }
    }
    Err(Error::msg(format!(
        "cannot create a mount directory under {}",
        parent.display()
    )))
}

/// Mounts the volume read-only, copies its files, and always unmounts and
/// removes the mount directory again, whatever went wrong in between.
fn read_volume(root: &Root, volume: &Volume) -> Result<Files> {
    let types: Vec<String> = match volume_type(&volume.device) {
        Some(t) if t == "vfat" || t == "iso9660" => vec![t],
        Some(t) => {
            return Err(Error::msg(format!(
                "volume {} (LABEL={}) holds a {t} filesystem; NoCloud seeds must be vfat or iso9660",
                volume.device, volume.label
            )));
        }
        None => vec!["vfat".to_string(), "iso9660".to_string()],
    };
    let dir = mount_dir(root)?;
    let dir_arg = dir.to_string_lossy().into_owned();
    let spec = format!("LABEL={}", volume.label);
    let mut mounted = false;
    let mut result = Err(Error::msg("no filesystem type to try"));
    for fstype in &types {
        result = run_captured("mount", &["-o", "ro", "-t", fstype, &spec, &dir_arg]);
        if result.is_ok() {
            mounted = true;
            break;
        }
    }
    let files = result.and_then(|()| read_dir_files(&dir));
    let unmounted = if mounted {
        run_captured("umount", &[&dir_arg])
    } else {
        Ok(())
    };
    if unmounted.is_ok() {
        // Empty on a real system; a test's fake mount leaves copies in it.
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        // Still mounted: remove nothing from the volume, only an empty dir.
        let _ = std::fs::remove_dir(&dir);
    }
    let files = files?;
    unmounted?;
    Ok(files)
}

/// The parsed seed, loaded at most once per process.
struct Seed {
    /// `meta-data` with the `ds=nocloud` keys merged over it.
    meta: Pairs,
    keys: Vec<(String, String)>,
    files: Files,
}

struct NoCloud {
    settings: Settings,
    root: Root,
    seed: Option<Seed>,
}

/// A YAML mapping's entries, in document order.
type Pairs = Vec<(Node, Node)>;

/// Parses meta-data: a YAML mapping, or nothing at all. It shares the
/// user-data YAML tree (which also caps nesting depth and alias bombs), so
/// only one tree builder is linked in.
pub(crate) fn parse_meta(text: &str, origin: &str) -> Result<Pairs> {
    let bad = |line: usize, why: &str| {
        Error::msg(format!(
            "meta-data from {origin}: invalid YAML at line {line}: {why}"
        ))
    };
    let (doc, _) = yaml::parse(text).map_err(|e| {
        let why = e.message.strip_prefix("YAML syntax error: ");
        bad(e.line, why.unwrap_or(&e.message))
    })?;
    match doc {
        None => Ok(Vec::new()),
        Some(Node {
            value: Value::Map(pairs),
            ..
        }) => {
            duplicates(&pairs)
                .map_err(|(line, key)| bad(line, &format!("{key:?}: duplicated key in mapping")))?;
            Ok(pairs)
        }
        Some(n) if resolve(&n).is_none() && n.scalar().is_some() => Ok(Vec::new()),
        Some(_) => Err(bad(1, "expected a mapping of keys to values")),
    }
}

/// A repeated key anywhere (as the YAML loader used before refused them):
/// the line of the second value and the key.
fn duplicates(pairs: &Pairs) -> std::result::Result<(), (usize, String)> {
    for (i, (k, v)) in pairs.iter().enumerate() {
        let key = resolve(k);
        if key.is_some() && pairs[..i].iter().any(|(p, _)| resolve(p) == key) {
            return Err((v.line, key.map(|k| k.1).unwrap_or_default()));
        }
        children(v, &mut |p| duplicates(p))?;
    }
    Ok(())
}

fn children<E>(
    node: &Node,
    f: &mut dyn FnMut(&Pairs) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    match &node.value {
        Value::Map(pairs) => f(pairs),
        Value::Seq(items) => items.iter().try_for_each(|n| children(n, f)),
        Value::Scalar(_) => Ok(()),
    }
}

/// A scalar typed the way the YAML 1.2 core schema (and the loader used
/// before) types it: `None` for null or a value its tag rejects, else
/// whether it is a string and its canonical text (`0x1f` is `31`, `True`
/// is `true`), so `hostname: 1234` is still a name.
fn resolve(node: &Node) -> Option<(bool, String)> {
    let Scalar { text, plain, tag } = node.scalar()?;
    let t = text.as_str();
    if !plain {
        return Some((true, text.clone()));
    }
    let boolean = match t {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    };
    let real = match t.trim_start_matches(['+', '-']) {
        ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN" => true,
        _ => is_core_float(t),
    };
    let typed = |s: String| Some((false, s));
    match tag.as_deref() {
        Some("bool") => typed(boolean?.to_string()),
        Some("int") => typed(t.parse::<i64>().ok()?.to_string()),
        Some("float") => real.then(|| (false, text.clone())),
        Some("null") => None,
        Some(_) => Some((true, text.clone())),
        None => {
            let (digits, radix) = match (t.strip_prefix("0x"), t.strip_prefix("0o")) {
                (Some(d), _) => (d, 16),
                (_, Some(d)) => (d, 8),
                _ => (t.strip_prefix('+').unwrap_or(t), 10),
            };
            let int = i64::from_str_radix(digits, radix).ok();
            if let Some(i) = int.or_else(|| t.parse().ok()) {
                typed(i.to_string())
            } else if matches!(t, "" | "~" | "null") {
                None
            } else if let Some(b) = boolean {
                typed(b.to_string())
            } else {
                Some((!real, text.clone()))
            }
        }
    }
}

/// The YAML 1.2 core schema's float pattern,
/// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`,
/// checked by hand: only whether a value is a number matters here, and
/// `str::parse::<f64>` would link about 12 KB of float parsing for it.
fn is_core_float(t: &str) -> bool {
    fn digits(s: &[u8]) -> usize {
        s.iter().take_while(|b| b.is_ascii_digit()).count()
    }
    let mut s = t.as_bytes();
    if let [b'+' | b'-', rest @ ..] = s {
        s = rest;
    }
    let whole = digits(s);
    s = &s[whole..];
    let mut fraction = 0;
    if let [b'.', rest @ ..] = s {
        fraction = digits(rest);
        s = &rest[fraction..];
    }
    if whole == 0 && fraction == 0 {
        return false;
    }
    if let [b'e' | b'E', rest @ ..] = s {
        s = rest;
        if let [b'+' | b'-', rest @ ..] = s {
            s = rest;
        }
        let exponent = digits(s);
        if exponent == 0 {
            return false;
        }
        s = &s[exponent..];
    }
    s.is_empty()
}

fn get<'a>(pairs: &'a Pairs, name: &str) -> Option<&'a Node> {
    pairs
        .iter()
        .find(|(k, _)| resolve(k).is_some_and(|(s, k)| s && k == name))
        .map(|(_, v)| v)
}

/// A YAML scalar as text (`hostname: 1234` is still a name).
fn scalar(node: &Node) -> Option<String> {
    resolve(node).map(|(_, text)| text)
}

/// Only string scalars (not numbers or booleans), as text.
fn string(node: &Node) -> Option<String> {
    resolve(node).filter(|r| r.0).map(|r| r.1)
}

/// Every shape `public-keys` comes in: a string (one key per line), a list
/// of those or of `{openssh-key: …}`, or a map of names to any of those.
pub(crate) fn public_keys(y: &Node, out: &mut Vec<String>) {
    match &y.value {
        Value::Scalar(_) => {
            if let Some(s) = string(y) {
                out.extend(
                    s.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(str::to_string),
                )
            }
        }
        Value::Seq(items) => items.iter().for_each(|i| public_keys(i, out)),
        Value::Map(h) => match get(h, "openssh-key") {
            Some(key) => public_keys(key, out),
            None => h.iter().for_each(|(_, v)| public_keys(v, out)),
        },
    }
}

/// A value for `imds`: scalars as they are, lists one item per line, maps
/// as their keys (EC2 style: `key/` when there is more below).
fn render(y: &Node) -> Vec<u8> {
    let mut out = String::new();
    match &y.value {
        Value::Seq(items) => {
            for item in items {
                if let Some(s) = scalar(item) {
                    out.push_str(&s);
                    out.push('\n');
                }
            }
        }
        Value::Map(h) => {
            for (k, v) in h {
                if let Some(k) = scalar(k) {
                    out.push_str(&k);
                    if v.scalar().is_none() {
                        out.push('/');
                    }
                    out.push('\n');
                }
            }
        }
        Value::Scalar(_) => out = scalar(y).unwrap_or_default(),
    }
    out.into_bytes()
}

impl NoCloud {
    fn current_boot(&self) -> String {
        self.root.read_value(BOOT_ID).unwrap_or_default()
    }

    /// Whether the kept copies may stand in for the seed: they were taken
    /// in this very boot (so the phases of one boot agree, and the volume
    /// is mounted once), or bootstrapping is complete (so `imds` later on
    /// reads what the instance was set up with). A new boot of an
    /// unfinished bootstrap reads the seed afresh.
    fn copies_current(&self) -> bool {
        let stamp = self.settings.var_dir.join(STAMP);
        let Ok(text) = std::fs::read_to_string(&stamp) else {
            return false;
        };
        if !self.settings.var_dir.join(FILES[META]).is_file() {
            return false;
        }
        let boot = text.lines().next().unwrap_or("");
        boot == self.current_boot() || self.settings.marker_path().exists()
    }

    fn load(&mut self) -> Result<&Seed> {
        if self.seed.is_none() {
            let seed = self.read_seed()?;
            self.seed = Some(seed);
        }
        self.seed
            .as_ref()
            .ok_or_else(|| Error::msg("NoCloud seed not loaded"))
    }

    fn read_seed(&self) -> Result<Seed> {
        let keys = ds_keys(&self.root);
        let var = &self.settings.var_dir;
        let (files, origin, fresh) = if self.copies_current() {
            (read_dir_files(var)?, var.display().to_string(), None)
        } else {
            let source = Source::find(&self.root, keys.as_deref())?;
            let files = match &source {
                Source::Dir(dir) => {
                    let dir = self.root.path(dir);
                    if !dir.is_dir() {
                        return Err(Error::msg(format!(
                            "seedfrom {}: no such directory",
                            dir.display()
                        )));
                    }
                    read_dir_files(&dir)?
                }
                Source::Http(url) => fetch_files(url, &self.settings)?,
                Source::Volume(v) => read_volume(&self.root, v)?,
                Source::KeysOnly => Default::default(),
            };
            let origin = source.describe();
            if files[META].is_none() && !matches!(source, Source::KeysOnly) {
                return Err(Error::msg(format!("seed {origin} has no meta-data")));
            }
            (files, origin.clone(), Some(origin))
        };
        let text = match &files[META] {
            Some(bytes) => std::str::from_utf8(bytes).map_err(|_| {
                Error::msg(format!("meta-data from {origin}: not valid UTF-8 text"))
            })?,
            None => "",
        };
        let mut meta = parse_meta(text, &origin)?;
        // Kept only once the seed proved usable, so a bad seed changes nothing.
        if let Some(origin) = fresh {
            self.keep(&files, &origin)?;
        }
        let keys = keys.unwrap_or_default();
        for (k, v) in &keys {
            let node = |text: &String| Node {
                value: Value::Scalar(Scalar {
                    text: text.clone(),
                    plain: false,
                    tag: None,
                }),
                line: 0,
            };
            match meta
                .iter_mut()
                .find(|(mk, _)| string(mk).as_ref() == Some(k))
            {
                Some(entry) => entry.1 = node(v),
                None => meta.push((node(k), node(v))),
            }
        }
        Ok(Seed { meta, keys, files })
    }

    /// Replaces the kept copies with this seed's files (removing those the
    /// seed lacks), then stamps them with this boot's id.
    fn keep(&self, files: &Files, origin: &str) -> Result<()> {
        let var = &self.settings.var_dir;
        for (data, name) in files.iter().zip(FILES) {
            let path = var.join(name);
            match data {
                Some(bytes) => {
                    self.root
                        .write(&path, bytes, FileSpec::forced(0o600, Owner::ROOT))?
                }
                None => {
                    self.root.remove_file(&path)?;
                }
            }
        }
        let stamp = format!("{}\n{origin}\n", self.current_boot());
        self.root
            .write(&var.join(STAMP), stamp.as_bytes(), FileSpec::mode(0o644))
    }

    fn meta_text(&mut self, name: &str) -> Result<Option<String>> {
        Ok(get(&self.load()?.meta, name).and_then(scalar))
    }
}

impl Cloud for NoCloud {
    fn name(&self) -> &'static str {
        "nocloud"
    }

    /// A `h=` key wins; else meta-data `hostname`, else `local-hostname`.
    fn hostname(&mut self) -> Result<String> {
        let seed = self.load()?;
        key(&seed.keys, "local-hostname")
            .map(str::to_string)
            .or_else(|| get(&seed.meta, "hostname").and_then(scalar))
            .or_else(|| get(&seed.meta, "local-hostname").and_then(scalar))
            .ok_or_else(|| Error::NotFound("meta-data hostname".to_string()))
    }

    fn local_hostname(&mut self) -> Result<String> {
        match self.meta_text("local-hostname")? {
            Some(name) => Ok(name),
            None => self.hostname(),
        }
    }

    fn ssh_keys(&mut self) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        if let Some(y) = get(&self.load()?.meta, "public-keys") {
            public_keys(y, &mut keys);
        }
        Ok(keys)
    }

    fn userdata(&mut self) -> Result<Vec<u8>> {
        self.load()?.files[USER]
            .clone()
            .ok_or_else(|| Error::NotFound("user-data".to_string()))
    }

    /// `meta-data`, `user-data`, `vendor-data`, `network-config` are the kept
    /// files; `meta-data/KEY[/KEY…]` (or just `KEY[/…]`) walks meta-data,
    /// with the `ds=nocloud` keys merged in.
    fn query(&mut self, path: &str) -> Result<Vec<u8>> {
        let path = path.trim_matches('/');
        let seed = self.load()?;
        if let Some(i) = FILES.iter().position(|f| *f == path) {
            return seed.files[i]
                .clone()
                .ok_or_else(|| Error::NotFound(path.to_string()));
        }
        let rel = path.strip_prefix("meta-data/").unwrap_or(path);
        let mut node: Option<&Node> = None;
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            node = match node.map(|n| &n.value) {
                None => get(&seed.meta, part),
                Some(Value::Map(h)) => get(h, part),
                Some(Value::Seq(a)) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
                Some(_) => None,
            };
            if node.is_none() {
                break;
            }
        }
        node.map(render)
            .ok_or_else(|| Error::NotFound(format!("meta-data/{rel}")))
    }

    fn network_action(&self) -> &'static str {
        "set_network_interfaces"
    }

    /// Only an http seed that is not already kept needs the network, and
    /// only while no address exists. Decided before anything is fetched.
    fn needs_ephemeral_network(&mut self, root: &Root) -> Result<bool> {
        if self.seed.is_some() || self.copies_current() {
            return Ok(false);
        }
        let keys = ds_keys(root).unwrap_or_default();
        let Some(seed) = key(&keys, "seedfrom") else {
            return Ok(false);
        };
        match Source::from_seedfrom(seed)? {
            Source::Http(_) => Ok(!has_ipv4(root)),
            _ => Ok(false),
        }
    }

    fn network_interfaces(&mut self) -> Result<Option<String>> {
        self.meta_text("network-interfaces")
    }

    fn nameservers(&mut self) -> Result<Vec<String>> {
        let seed = self.load()?;
        let Some(Value::Map(conf)) = get(&seed.meta, "resolv_conf").map(|n| &n.value) else {
            return Ok(Vec::new());
        };
        Ok(match get(conf, "nameservers") {
            Some(Node {
                value: Value::Seq(list),
                ..
            }) => list.iter().filter_map(scalar).collect(),
            Some(n) => string(n)
                .map(|s| s.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
            None => Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_schema_floats() {
        for yes in ["1.5", "-1.5", "+.5", "1.", "1e5", "2.5E-3", "0", "-0.0e+0"] {
            assert!(is_core_float(yes), "{yes}");
        }
        for no in [
            "", ".", "+", "e5", "1e", "1e+", "1.5.2", "1_000", "0x1f", "inf", "1.5 ", "v1.5",
        ] {
            assert!(!is_core_float(no), "{no}");
        }
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ds_forms() {
        assert_eq!(parse_ds("root=/dev/vda ro"), None);
        assert_eq!(parse_ds("ds=nocloud"), Some(vec![]));
        assert_eq!(parse_ds("quiet ds=nocloud-net console=ttyS0"), Some(vec![]));
        assert_eq!(
            parse_ds("ro ds=nocloud;h=web1;i=iid-1;s=/seed/ quiet"),
            Some(pairs(&[
                ("local-hostname", "web1"),
                ("instance-id", "iid-1"),
                ("seedfrom", "/seed/")
            ]))
        );
        assert_eq!(
            parse_ds("ds=nocloud-net;s=http://10.0.0.1:8000/;local-hostname=a"),
            Some(pairs(&[
                ("seedfrom", "http://10.0.0.1:8000/"),
                ("local-hostname", "a")
            ]))
        );
    }

    #[test]
    fn ds_edge_cases() {
        // Not NoCloud at all.
        assert_eq!(parse_ds("ds=nocloudx;h=a ds=ec2"), None);
        assert_eq!(parse_ds("xds=nocloud"), None);
        assert_eq!(parse_ds(""), None);
        // Empty items, items without '=', a value holding '='.
        assert_eq!(
            parse_ds("ds=nocloud;;flag;h=a;s=http://h/?x=1;"),
            Some(pairs(&[
                ("local-hostname", "a"),
                ("seedfrom", "http://h/?x=1")
            ]))
        );
        // The last token and, within it, the last value win.
        assert_eq!(
            parse_ds("ds=nocloud;h=a ds=nocloud;h=b;h=c"),
            Some(pairs(&[("local-hostname", "c")]))
        );
        // Only the `ds=` token counts, not other parameters.
        assert_eq!(parse_ds("h=x ds=nocloud"), Some(vec![]));
    }

    #[test]
    fn seedfrom_kinds() {
        assert!(matches!(Source::from_seedfrom("/seed/"), Ok(Source::Dir(p)) if p == "/seed/"));
        assert!(
            matches!(Source::from_seedfrom("file:///seed/"), Ok(Source::Dir(p)) if p == "/seed/")
        );
        assert!(matches!(
            Source::from_seedfrom("http://h/"),
            Ok(Source::Http(_))
        ));
        let e = Source::from_seedfrom("https://h/")
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("https seeds need TLS")));
        assert!(Source::from_seedfrom("ftp://h/").is_err());
        assert!(Source::from_seedfrom("seed/").is_err());
    }

    #[test]
    fn yaml_errors_name_the_line() {
        let e = parse_meta("a: 1\nb: [1, 2\nc: 3\n", "x")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("meta-data from x: invalid YAML at line "),
            "{e}"
        );
        let e = parse_meta("a: 1\n  b: 2\n", "x").unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
        assert!(parse_meta("- a\n", "x").is_err());
        assert!(parse_meta("", "x").unwrap().is_empty());
        let deep = format!("a: {}{}\n", "[".repeat(200), "]".repeat(200));
        assert!(parse_meta(&deep, "x").is_err());
    }

    #[test]
    fn public_key_shapes() {
        let keys = |text: &str| {
            let meta = parse_meta(text, "t").unwrap();
            let mut out = Vec::new();
            if let Some(y) = get(&meta, "public-keys") {
                public_keys(y, &mut out);
            }
            out
        };
        assert_eq!(keys("public-keys: ssh-ed25519 A a\n"), ["ssh-ed25519 A a"]);
        assert_eq!(
            keys("public-keys: |\n  ssh-ed25519 A a\n  ssh-rsa B b\n"),
            ["ssh-ed25519 A a", "ssh-rsa B b"]
        );
        assert_eq!(keys("public-keys: [k1, k2]\n"), ["k1", "k2"]);
        assert_eq!(
            keys("public-keys:\n  - openssh-key: k1\n  - openssh-key: k2\n"),
            ["k1", "k2"]
        );
        assert_eq!(keys("public-keys:\n  alice: k1\n  bob: k2\n"), ["k1", "k2"]);
        assert_eq!(
            keys("public-keys:\n  alice: [k1, k2]\n  bob:\n    - k3\n"),
            ["k1", "k2", "k3"]
        );
        assert!(keys("hostname: h\n").is_empty());
    }

    #[test]
    fn fib_trie_addresses() {
        let lo_only = "Main:\n  +-- 0.0.0.0/0 3 0 4\n     |-- 127.0.0.0\n        /8 host LOCAL\n     |-- 127.0.0.1\n        /32 host LOCAL\n";
        assert!(!fib_trie_has_address(lo_only));
        let with_eth = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n     +-- 10.0.2.0/24 2 0 2\n        |-- 10.0.2.0\n           /24 link UNICAST\n        |-- 10.0.2.15\n           /32 host LOCAL\n";
        assert!(fib_trie_has_address(with_eth));
        assert!(!fib_trie_has_address(""));
    }

    #[test]
    fn scalars_keep_their_yaml_types() {
        let meta = parse_meta(
            "a: 0x10\nb: True\nc: '0x10'\nd: +7\ne: 1.50\n3: x\nf: ~\n",
            "t",
        )
        .unwrap();
        let r = |k: &str| get(&meta, k).and_then(scalar);
        assert_eq!(r("a").as_deref(), Some("16"));
        assert_eq!(r("b").as_deref(), Some("true"));
        assert_eq!(r("c").as_deref(), Some("0x10"));
        assert_eq!(r("d").as_deref(), Some("7"));
        assert_eq!(r("e").as_deref(), Some("1.50"));
        assert_eq!(r("f"), None);
        // Only string keys are looked up by name.
        assert!(get(&meta, "3").is_none());
        let e = parse_meta("a: 1\nb:\n  c: 2\n  c: 3\n", "x").unwrap_err();
        assert!(e.to_string().contains("line 4"), "{e}");
        assert!(e.to_string().contains("duplicated key"), "{e}");
    }

    #[test]
    fn rendering() {
        let meta = parse_meta(
            "instance-id: iid-1\nport: 22\nlist: [a, b]\nmap: {x: 1, y: [2]}\n",
            "t",
        )
        .unwrap();
        let r = |k: &str| String::from_utf8(render(get(&meta, k).unwrap())).unwrap();
        assert_eq!(r("instance-id"), "iid-1");
        assert_eq!(r("port"), "22");
        assert_eq!(r("list"), "a\nb\n");
        assert_eq!(r("map"), "x\ny/\n");
    }
}
