//! From the YAML tree to `Config`: every key checked for its type and every
//! name for its syntax, each problem reported as `PATH: what (line N)`, so
//! that nothing odd reaches `/etc/passwd`, a file path or an argv.

use super::encoding::{self, MAX_CONTENT};
use super::yaml::{self, Node, Value};
use super::{Command, Config, GroupSpec, NtpClient, Repository, UserEntry, UserSpec, WriteFile};
use crate::userdb::valid_name;
use std::collections::HashSet;

/// Keys we act on, so anything else is "ignored", not an error.
const TOP_KEYS: &[&str] = &[
    "user",
    "users",
    "groups",
    "ssh_authorized_keys",
    "bootcmd",
    "runcmd",
    "write_files",
    "ntp",
    "apk",
    "package_update",
    "package_upgrade",
    "packages",
    "autoinstall",
];

/// cloud-init user keys we do not act on: said once, not an error, so a
/// cloud-config written for cloud-init still boots.
const IGNORED_USER_KEYS: &[&str] = &[
    "passwd",
    "hashed_passwd",
    "plain_text_passwd",
    "uid",
    "expiredate",
    "inactive",
    "ssh_import_id",
    "ssh_redirect_user",
    "create_groups",
    "selinux_user",
    "snapuser",
];

const USER_KEYS: &[&str] = &[
    "name",
    "gecos",
    "homedir",
    "shell",
    "primary_group",
    "system",
    "no_create_home",
    "lock_passwd",
    "lock-passwd",
    "groups",
    "ssh_authorized_keys",
    "doas",
    "sudo",
];

pub fn config(text: &str) -> Result<Config, Vec<String>> {
    let (root, docs) =
        yaml::parse(text).map_err(|e| vec![format!("{} (line {})", e.message, e.line)])?;
    let mut p = P::default();
    let mut c = Config::default();
    if docs > 1 {
        c.warnings
            .push(format!("{docs} YAML documents; only the first is used"));
    }
    let Some(root) = root else {
        return Ok(c);
    };
    let Some(pairs) = p.map(&root, "user-data") else {
        return Err(p.errors);
    };
    for (key, value) in &pairs {
        let k = *key;
        if value.is_null() && TOP_KEYS.contains(&k) {
            continue;
        }
        match k {
            "user" => c.user = p.user(value, &mut c.warnings),
            "users" => c.users = p.users(value),
            "groups" => c.groups = p.groups(value),
            "ssh_authorized_keys" => c.ssh_authorized_keys = p.keys(value, k),
            "bootcmd" | "runcmd" => {
                let cmds = p.commands(value, k);
                if k == "bootcmd" {
                    c.bootcmd = cmds
                } else {
                    c.runcmd = cmds
                }
            }
            "write_files" => c.write_files = p.write_files(value),
            "ntp" => c.ntp = p.ntp(value),
            "apk" => {
                c.apk_given = true;
                p.apk(value, &mut c);
            }
            "package_update" => c.package_update = p.boolean(value, k).unwrap_or(false),
            "package_upgrade" => c.package_upgrade = p.boolean(value, k).unwrap_or(false),
            "autoinstall" => c.autoinstall = p.boolean(value, k).unwrap_or(false),
            "packages" => c.packages = p.packages(value),
            _ => c.warnings.push(format!(
                "user-data key '{}' is not supported; ignored (line {})",
                k.escape_debug(),
                value.line
            )),
        }
    }
    c.warnings.append(&mut p.warnings);
    if p.errors.is_empty() {
        Ok(c)
    } else {
        Err(p.errors)
    }
}

/// The parser's state: problems found so far.
#[derive(Default)]
struct P {
    errors: Vec<String>,
    warnings: Vec<String>,
}

type Pairs<'a> = Vec<(&'a str, &'a Node)>;

impl P {
    fn err(&mut self, path: &str, node: &Node, what: impl std::fmt::Display) {
        self.errors
            .push(format!("{path}: {what} (line {})", node.line));
    }

    /// A mapping with string keys, each once.
    fn map<'a>(&mut self, node: &'a Node, path: &str) -> Option<Pairs<'a>> {
        let Value::Map(pairs) = &node.value else {
            self.err(
                path,
                node,
                format!("expected a mapping, found {}", node.kind()),
            );
            return None;
        };
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let Some(s) = k.scalar() else {
                self.err(path, k, "keys must be plain strings");
                continue;
            };
            if !seen.insert(s.text.as_str()) {
                self.err(
                    path,
                    k,
                    format!("key '{}' given twice", s.text.escape_debug()),
                );
                continue;
            }
            out.push((s.text.as_str(), v));
        }
        Some(out)
    }

    /// A mapping whose keys must all be in `known`; others are errors there,
    /// since a typo in, say, a user entry would silently lose a setting.
    fn record<'a>(&mut self, node: &'a Node, path: &str, known: &[&str]) -> Option<Pairs<'a>> {
        let pairs = self.map(node, path)?;
        for (k, v) in &pairs {
            if known == USER_KEYS && IGNORED_USER_KEYS.contains(k) {
                self.warnings.push(format!(
                    "{path}.{k}: not supported; ignored (line {})",
                    v.line
                ));
            } else if !known.contains(k) {
                self.err(
                    &format!("{path}.{}", k.escape_debug()),
                    v,
                    format!("unknown key (known: {})", known.join(", ")),
                );
            }
        }
        Some(pairs)
    }

    fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match node.scalar() {
            Some(s) if !node.is_null() => Some(s.text.clone()),
            _ => {
                self.err(
                    path,
                    node,
                    format!("expected a string, found {}", node.kind()),
                );
                None
            }
        }
    }

    /// A string that goes into a line of a file: no line breaks, no NUL.
    fn line(&mut self, node: &Node, path: &str) -> Option<String> {
        let s = self.string(node, path)?;
        if s.contains(['\n', '\r', '\0']) {
            self.err(path, node, "must be one line");
            return None;
        }
        Some(s)
    }

    /// YAML 1.1 booleans, any case: what cloud-init users write.
    fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        if node.is_null() {
            return Some(false);
        }
        let text = node.scalar().map(|s| s.text.to_ascii_lowercase());
        match text.as_deref() {
            Some("true" | "yes" | "on" | "y") => Some(true),
            Some("false" | "no" | "off" | "n") => Some(false),
            _ => {
                self.err(path, node, "expected true or false");
                None
            }
        }
    }

    fn list<'a>(&mut self, node: &'a Node, path: &str) -> &'a [Node] {
        match &node.value {
            Value::Seq(items) => items,
            _ if node.is_null() => &[],
            _ => {
                self.err(
                    path,
                    node,
                    format!("expected a list, found {}", node.kind()),
                );
                &[]
            }
        }
    }

    /// A list of one-line strings, or (`comma`) one comma-separated string.
    fn strings(&mut self, node: &Node, path: &str, comma: bool) -> Vec<String> {
        match &node.value {
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, n)| self.line(n, &format!("{path}[{i}]")))
                .collect(),
            Value::Scalar(_) if node.is_null() => Vec::new(),
            Value::Scalar(s) if comma => s
                .text
                .split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect(),
            _ => {
                let want = if comma {
                    "expected a list or a comma-separated string"
                } else {
                    "expected a list"
                };
                self.err(path, node, want);
                Vec::new()
            }
        }
    }

    fn name(&mut self, node: &Node, path: &str, what: &str) -> Option<String> {
        let s = self.string(node, path)?;
        self.check_name(&s, node, path, what).then_some(s)
    }

    fn check_name(&mut self, s: &str, node: &Node, path: &str, what: &str) -> bool {
        if valid_name(s) {
            return true;
        }
        self.err(
            path,
            node,
            format!(
                "invalid {what} name '{}' (want [a-z_][a-z0-9_-]*, at most 32 characters)",
                s.escape_debug()
            ),
        );
        false
    }

    fn names(&mut self, node: &Node, path: &str, what: &str) -> Vec<String> {
        let names = self.strings(node, path, true);
        names
            .into_iter()
            .filter(|n| self.check_name(n, node, path, what))
            .collect()
    }

    /// An absolute path with no `..`, safe to put under ROOT.
    fn abs_path(&mut self, node: &Node, path: &str) -> Option<String> {
        let s = self.string(node, path)?;
        let problem = if !s.starts_with('/') {
            Some("must be an absolute path")
        } else if s.split('/').any(|c| c == "..") {
            Some("must not contain '..'")
        } else if s.contains(['\0', '\n', '\r']) {
            Some("must be one line")
        } else {
            None
        };
        if let Some(what) = problem {
            self.err(path, node, format!("{what}: '{}'", s.escape_debug()));
            return None;
        }
        Some(s)
    }

    fn keys(&mut self, node: &Node, path: &str) -> Vec<String> {
        if node.scalar().is_some() {
            return self.line(node, path).into_iter().collect();
        }
        self.strings(node, path, false)
    }

    fn user(&mut self, node: &Node, warnings: &mut Vec<String>) -> Option<UserSpec> {
        if node.is_null() {
            return None;
        }
        if node.scalar().is_some() {
            let name = self.name(node, "user", "user")?;
            return Some(UserSpec {
                name,
                ..Default::default()
            });
        }
        let pairs = self.record(node, "user", USER_KEYS)?;
        if !pairs.iter().any(|(k, _)| *k == "name") {
            // The contract's choice: reported, but the default user stays.
            warnings.push(format!(
                "user: a mapping without 'name'; default user kept (line {})",
                node.line
            ));
            return None;
        }
        self.user_spec(&pairs, "user")
    }

    fn users(&mut self, node: &Node) -> Vec<UserEntry> {
        let items: Vec<Node> = match &node.value {
            Value::Scalar(s) => s
                .text
                .split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(|x| Node {
                    value: Value::Scalar(yaml::Scalar {
                        text: x.to_string(),
                        plain: false,
                        tag: None,
                    }),
                    line: node.line,
                })
                .collect(),
            _ => self.list(node, "users").to_vec(),
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("users[{i}]");
            if item.scalar().is_some_and(|s| s.text == "default") {
                out.push(UserEntry::Default);
            } else if item.scalar().is_some() {
                if let Some(name) = self.name(item, &path, "user") {
                    out.push(UserEntry::User(Box::new(UserSpec {
                        name,
                        ..Default::default()
                    })));
                }
            } else if let Some(pairs) = self.record(item, &path, USER_KEYS) {
                if !pairs.iter().any(|(k, _)| *k == "name") {
                    self.err(&path, item, "'name' is required");
                    continue;
                }
                if let Some(spec) = self.user_spec(&pairs, &path) {
                    out.push(UserEntry::User(Box::new(spec)));
                }
            }
        }
        out
    }

    fn user_spec(&mut self, pairs: &Pairs, path: &str) -> Option<UserSpec> {
        let mut spec = UserSpec::default();
        let errors = self.errors.len();
        for (key, v) in pairs {
            let k = *key;
            let at = format!("{path}.{k}");
            if v.is_null() && k != "name" {
                continue;
            }
            match k {
                "name" => spec.name = self.name(v, &at, "user").unwrap_or_default(),
                "gecos" => spec.gecos = self.field(v, &at),
                "homedir" => {
                    spec.homedir = self.abs_path(v, &at).and_then(|p| self.no_colon(p, v, &at))
                }
                "shell" => {
                    spec.shell = self.abs_path(v, &at).and_then(|p| self.no_colon(p, v, &at))
                }
                "primary_group" => spec.primary_group = self.name(v, &at, "group"),
                "system" => spec.system = self.boolean(v, &at).unwrap_or(false),
                "no_create_home" => spec.no_create_home = self.boolean(v, &at).unwrap_or(false),
                // Checked, then ignored: the password field is always `*`.
                "lock_passwd" | "lock-passwd" => {
                    self.boolean(v, &at);
                }
                "groups" => spec.groups = self.names(v, &at, "group"),
                "ssh_authorized_keys" => spec.ssh_authorized_keys = self.keys(v, &at),
                "doas" => spec.doas = self.strings(v, &at, false),
                "sudo" => spec.sudo = self.sudo(v, &at),
                _ => {}
            }
        }
        (self.errors.len() == errors).then_some(spec)
    }

    /// A passwd field: one line, no `:`.
    fn field(&mut self, node: &Node, path: &str) -> Option<String> {
        let s = self.line(node, path)?;
        self.no_colon(s, node, path)
    }

    fn no_colon(&mut self, s: String, node: &Node, path: &str) -> Option<String> {
        if s.contains(':') {
            self.err(path, node, "must not contain ':'");
            return None;
        }
        Some(s)
    }

    /// `sudo: false` means none; else one rule or a list of them.
    fn sudo(&mut self, node: &Node, path: &str) -> Vec<String> {
        if let Some(s) = node.scalar() {
            if s.plain && s.text.eq_ignore_ascii_case("false") {
                return Vec::new();
            }
            return self.line(node, path).into_iter().collect();
        }
        self.strings(node, path, false)
    }

    /// A list of names or of `{name: members}`, or one mapping name → members.
    fn groups(&mut self, node: &Node) -> Vec<GroupSpec> {
        let mut out = Vec::new();
        let mut one = |p: &mut P, name: &Node, members: Option<&Node>, path: &str| {
            let Some(name) = p.name(name, path, "group") else {
                return;
            };
            let members = match members {
                Some(m) => p.names(m, &format!("{path}.{name}"), "user"),
                None => Vec::new(),
            };
            out.push(GroupSpec { name, members });
        };
        match &node.value {
            Value::Map(kv) => {
                if self.map(node, "groups").is_some() {
                    for (k, v) in kv {
                        one(self, k, Some(v), "groups");
                    }
                }
            }
            Value::Scalar(s) if !node.is_null() => {
                for n in s.text.split(',').map(str::trim).filter(|x| !x.is_empty()) {
                    if self.check_name(n, node, "groups", "group") {
                        out.push(GroupSpec {
                            name: n.to_string(),
                            members: Vec::new(),
                        });
                    }
                }
            }
            _ => {
                for (i, item) in self.list(node, "groups").iter().enumerate() {
                    let path = format!("groups[{i}]");
                    match &item.value {
                        Value::Map(kv) => {
                            if self.map(item, &path).is_none() {
                                continue;
                            }
                            for (k, v) in kv {
                                one(self, k, Some(v), &path);
                            }
                        }
                        _ => one(self, item, None, &path),
                    }
                }
            }
        }
        out
    }

    fn commands(&mut self, node: &Node, key: &str) -> Vec<Command> {
        let mut out = Vec::new();
        for (i, item) in self.list(node, key).iter().enumerate() {
            let path = format!("{key}[{i}]");
            match &item.value {
                Value::Seq(args) => {
                    let argv: Vec<String> = args
                        .iter()
                        .enumerate()
                        .filter_map(|(j, a)| self.string(a, &format!("{path}[{j}]")))
                        .collect();
                    if argv.len() != args.len() {
                        continue;
                    }
                    if argv.is_empty() || argv[0].is_empty() {
                        self.err(&path, item, "an empty command");
                    } else if argv.iter().any(|a| a.contains('\0')) {
                        self.err(&path, item, "contains a NUL byte");
                    } else {
                        out.push(Command::Argv(argv));
                    }
                }
                _ => {
                    if let Some(s) = self.string(item, &path) {
                        if s.contains('\0') {
                            self.err(&path, item, "contains a NUL byte");
                        } else {
                            out.push(Command::Shell(s));
                        }
                    }
                }
            }
        }
        out
    }

    fn write_files(&mut self, node: &Node) -> Vec<WriteFile> {
        const KEYS: &[&str] = &[
            "path",
            "content",
            "source",
            "encoding",
            "permissions",
            "owner",
            "append",
            "defer",
        ];
        let mut out = Vec::new();
        for (i, item) in self.list(node, "write_files").iter().enumerate() {
            let path = format!("write_files[{i}]");
            let errors = self.errors.len();
            let Some(pairs) = self.record(item, &path, KEYS) else {
                continue;
            };
            let get = |k: &str| pairs.iter().find(|(kk, _)| *kk == k).map(|(_, v)| *v);
            let Some(target) = get("path") else {
                self.err(&path, item, "'path' is required");
                continue;
            };
            let target = self.abs_path(target, &format!("{path}.path"));
            if let Some(src) = get("source") {
                self.err(
                    &format!("{path}.source"),
                    src,
                    "not supported (give 'content')",
                );
            }
            let enc_at = format!("{path}.encoding");
            let enc = match get("encoding").filter(|n| !n.is_null()) {
                None => encoding::parse_encoding(""),
                Some(n) => match self.string(n, &enc_at) {
                    Some(name) => {
                        let e = encoding::parse_encoding(&name);
                        if e.is_none() {
                            self.err(
                                &enc_at,
                                n,
                                format!(
                                    "unknown encoding '{}' (want text/plain, b64, gzip or gz+b64)",
                                    name.escape_debug()
                                ),
                            );
                        }
                        e
                    }
                    None => None,
                },
            };
            let content = match (get("content").filter(|n| !n.is_null()), enc) {
                (None, _) => Some(Vec::new()),
                (Some(n), Some(enc)) => self.content(n, &format!("{path}.content"), enc),
                (Some(_), None) => None,
            };
            let mode = match get("permissions").filter(|n| !n.is_null()) {
                None => Some(0o644),
                Some(n) => self.mode(n, &format!("{path}.permissions")),
            };
            let owner = match get("owner").filter(|n| !n.is_null()) {
                None => None,
                Some(n) => self.owner(n, &format!("{path}.owner")),
            };
            let append = get("append").and_then(|n| self.boolean(n, &format!("{path}.append")));
            let defer = get("defer").and_then(|n| self.boolean(n, &format!("{path}.defer")));
            if self.errors.len() != errors {
                continue;
            }
            if let (Some(path), Some(content), Some(mode)) = (target, content, mode) {
                out.push(WriteFile {
                    path,
                    content,
                    mode,
                    owner,
                    append: append.unwrap_or(false),
                    defer: defer.unwrap_or(false),
                });
            }
        }
        out
    }

    fn content(&mut self, node: &Node, path: &str, enc: encoding::Encoding) -> Option<Vec<u8>> {
        let Some(s) = node.scalar() else {
            self.err(
                path,
                node,
                format!("expected a string, found {}", node.kind()),
            );
            return None;
        };
        let raw = if s.tag.as_deref() == Some("binary") {
            match crate::base64::decode(s.text.as_bytes()) {
                Ok(b) => b,
                Err(e) => {
                    self.err(path, node, format!("!!binary: {e}"));
                    return None;
                }
            }
        } else {
            s.text.as_bytes().to_vec()
        };
        match encoding::decode(&raw, enc) {
            Ok(b) if b.len() <= MAX_CONTENT => Some(b),
            Ok(_) => {
                self.err(path, node, format!("larger than {MAX_CONTENT} bytes"));
                None
            }
            Err(e) => {
                self.err(path, node, e);
                None
            }
        }
    }

    /// The scalar's own digits, read as octal whatever YAML thinks they are:
    /// `0644`, `'0644'`, `644` and `0o644` are all rw-r--r--.
    fn mode(&mut self, node: &Node, path: &str) -> Option<u32> {
        let text = node.scalar().map(|s| s.text.trim().to_string());
        let digits = text.as_deref().map(|t| {
            t.strip_prefix("0o")
                .or_else(|| t.strip_prefix("0O"))
                .unwrap_or(t)
        });
        match digits {
            Some(d)
                if !d.is_empty()
                    && d.len() <= 5
                    && d.bytes().all(|b| (b'0'..=b'7').contains(&b)) =>
            {
                match u32::from_str_radix(d, 8) {
                    Ok(m) if m <= 0o7777 => return Some(m),
                    _ => {}
                }
            }
            _ => {}
        }
        self.err(path, node, "expected octal permissions like '0644'");
        None
    }

    fn owner(&mut self, node: &Node, path: &str) -> Option<(String, Option<String>)> {
        let s = self.string(node, path)?;
        let (user, group) = match s.split_once(':') {
            Some((u, g)) => (u.to_string(), Some(g.to_string())),
            None => (s.clone(), None),
        };
        let ok = self.check_name(&user, node, path, "user")
            && group
                .as_deref()
                .is_none_or(|g| self.check_name(g, node, path, "group"));
        ok.then_some((user, group))
    }

    fn ntp(&mut self, node: &Node) -> Option<NtpClient> {
        const KEYS: &[&str] = &[
            "enabled",
            "ntp_client",
            "servers",
            "pools",
            "peers",
            "allow",
            "config",
        ];
        let pairs = self.map(node, "ntp")?;
        let mut enabled = false;
        let mut client = NtpClient::Chrony;
        for (k, v) in &pairs {
            let at = format!("ntp.{k}");
            match *k {
                "enabled" => enabled = self.boolean(v, &at).unwrap_or(false),
                "ntp_client" if !v.is_null() => {
                    client = match self
                        .string(v, &at)
                        .map(|s| s.to_ascii_lowercase())
                        .as_deref()
                    {
                        Some("busybox" | "ntpd") => NtpClient::Busybox,
                        Some("chrony" | "auto") => NtpClient::Chrony,
                        Some("openntpd") => NtpClient::Openntpd,
                        Some(_) => {
                            self.err(&at, v, "expected busybox, chrony or openntpd");
                            NtpClient::Chrony
                        }
                        None => NtpClient::Chrony,
                    }
                }
                _ if KEYS.contains(k) => {}
                _ => self.err(&at, v, format!("unknown key (known: {})", KEYS.join(", "))),
            }
        }
        enabled.then_some(client)
    }

    fn apk(&mut self, node: &Node, c: &mut Config) {
        let Some(pairs) = self.record(node, "apk", &["cache", "repositories"]) else {
            return;
        };
        for (k, v) in pairs {
            if v.is_null() {
                continue;
            }
            if k == "cache" {
                c.apk_cache = self.abs_path(v, "apk.cache");
                continue;
            }
            for (i, item) in self.list(v, "apk.repositories").iter().enumerate() {
                let path = format!("apk.repositories[{i}]");
                let Some(entry) = self.record(item, &path, &["base_url", "version", "repos"])
                else {
                    continue;
                };
                let get = |k: &str| entry.iter().find(|(kk, _)| *kk == k).map(|(_, v)| *v);
                let base_url = match get("base_url") {
                    Some(n) => self.word(n, &format!("{path}.base_url")),
                    None => {
                        self.err(&path, item, "'base_url' is required");
                        None
                    }
                };
                let version = get("version")
                    .filter(|n| !n.is_null())
                    .and_then(|n| self.word(n, &format!("{path}.version")))
                    .map(|v| normalize_version(&v));
                let repos = match get("repos") {
                    Some(n) => {
                        let at = format!("{path}.repos");
                        let list = self.strings(n, &at, true);
                        for r in &list {
                            if r.is_empty() || r.contains(char::is_whitespace) {
                                self.err(
                                    &at,
                                    n,
                                    format!("invalid repository name '{}'", r.escape_debug()),
                                );
                            }
                        }
                        list
                    }
                    None => {
                        self.err(&path, item, "'repos' is required (e.g. [main, community])");
                        Vec::new()
                    }
                };
                if let Some(base_url) = base_url {
                    c.apk_repositories.push(Repository {
                        base_url: base_url.trim_end_matches('/').to_string(),
                        version,
                        repos,
                    });
                }
            }
        }
    }

    /// One token: no whitespace, nothing that would split a line.
    fn word(&mut self, node: &Node, path: &str) -> Option<String> {
        let s = self.string(node, path)?;
        if s.is_empty() || s.contains(|c: char| c.is_whitespace() || c.is_control()) {
            self.err(
                path,
                node,
                format!("'{}' is not a single word", s.escape_debug()),
            );
            return None;
        }
        Some(s)
    }

    /// Names, or `[name, version]` pairs (cloud-init's form) → `name=version`.
    fn packages(&mut self, node: &Node) -> Vec<String> {
        let mut out = Vec::new();
        for (i, item) in self.list(node, "packages").iter().enumerate() {
            let path = format!("packages[{i}]");
            let spec = match &item.value {
                Value::Seq(pair) if pair.len() == 2 => {
                    match (self.word(&pair[0], &path), self.word(&pair[1], &path)) {
                        (Some(n), Some(v)) => Some(format!("{n}={v}")),
                        _ => continue,
                    }
                }
                Value::Seq(_) => {
                    self.err(&path, item, "expected a name or a [name, version] pair");
                    continue;
                }
                _ => self.word(item, &path),
            };
            let Some(spec) = spec else { continue };
            if spec.starts_with('-') {
                // apk would take it for an option.
                self.err(
                    &path,
                    item,
                    format!("invalid package name '{}'", spec.escape_debug()),
                );
            } else {
                out.push(spec);
            }
        }
        out
    }
}

/// An entry's own version: `.` or `/` mean none; `3.20` or `3.20.3` become
/// `v3.20` (YAML reads `3.20` as a number, and the mirrors say `v3.20`).
fn normalize_version(v: &str) -> String {
    if v == "." || v == "/" {
        return String::new();
    }
    if v.starts_with(|c: char| c.is_ascii_digit()) {
        let mut parts = v.split('.');
        if let (Some(major), Some(minor)) = (parts.next(), parts.next()) {
            return format!("v{major}.{minor}");
        }
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Config {
        Config::parse(text).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn errs(text: &str) -> Vec<String> {
        Config::parse(text).expect_err("should fail")
    }

    #[test]
    fn empty_and_unknown() {
        let c = ok("#cloud-config\n");
        assert!(c.users.is_empty() && !c.autoinstall);
        let c = ok("#cloud-config\nhostname: x\nfoo: [1]\n");
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert!(c.warnings[1].contains("'foo'") && c.warnings[1].contains("line 3"));
        assert!(errs("#cloud-config\n- a\n")[0].contains("user-data: expected a mapping"));
    }

    #[test]
    fn users_and_paths() {
        let c = ok(
            "#cloud-config\nusers:\n  - default\n  - name: bob\n    groups: wheel, adm\n    sudo: ALL=(ALL) NOPASSWD:ALL\n    shell: /bin/ash\n    lock_passwd: yes\n  - carol\n",
        );
        assert_eq!(c.users[0], UserEntry::Default);
        let UserEntry::User(bob) = &c.users[1] else {
            panic!()
        };
        assert_eq!(bob.groups, ["wheel", "adm"]);
        assert_eq!(bob.sudo, ["ALL=(ALL) NOPASSWD:ALL"]);
        assert_eq!(bob.shell.as_deref(), Some("/bin/ash"));
        assert!(matches!(&c.users[2], UserEntry::User(u) if u.name == "carol"));
        assert!(c.default_user().is_none());

        let e = errs(
            "#cloud-config\nusers:\n  - default\n  - name: a\n  - name: b\n    groups: {x: 1}\n",
        );
        assert_eq!(
            e,
            ["users[2].groups: expected a list or a comma-separated string (line 6)"]
        );
        let e = errs(
            "#cloud-config\nusers:\n  - name: Bad\n  - gecos: x\n  - name: c\n    shell: bin/sh\n    colour: red\n",
        );
        assert_eq!(e.len(), 4, "{e:?}");
        assert!(
            e[0].starts_with("users[0].name: invalid user name 'Bad'")
                && e[0].ends_with("(line 3)")
        );
        assert!(e[1].contains("users[1]: 'name' is required"));
        assert!(
            e.iter()
                .any(|x| x.starts_with("users[2].shell: must be an absolute path"))
        );
        assert!(
            e.iter()
                .any(|x| x.starts_with("users[2].colour: unknown key"))
        );
    }

    #[test]
    fn cloud_init_user_keys_are_warnings() {
        let c = ok("users:\n  - name: a\n    passwd: $6$x\n    uid: 1234\n");
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert_eq!(
            c.warnings[0],
            "users[0].passwd: not supported; ignored (line 3)"
        );
    }

    #[test]
    fn default_user_from_user_or_users() {
        assert_eq!(ok("user: bob\n").default_user().unwrap().name, "bob");
        assert_eq!(
            ok("user: {name: bob}\n").default_user().unwrap().name,
            "bob"
        );
        let c = ok("user: {gecos: x}\n");
        assert!(c.default_user().is_none());
        assert!(c.warnings[0].contains("without 'name'"));
        assert_eq!(
            ok("users: [eve, default]\n").default_user().unwrap().name,
            "eve"
        );
        assert!(errs("user: 'root:x'\n")[0].starts_with("user: invalid user name"));
    }

    #[test]
    fn groups_forms() {
        let c = ok("groups:\n  - admins: [root, bob]\n  - plain\n  - team: alice, carol\n");
        assert_eq!(c.groups.len(), 3);
        assert_eq!(c.groups[0].members, ["root", "bob"]);
        assert_eq!(c.groups[2].members, ["alice", "carol"]);
        let c = ok("groups: {a: [x], b: }\n");
        assert_eq!(c.groups.len(), 2);
        assert!(errs("groups: [BAD]\n")[0].contains("groups[0]: invalid group name 'BAD'"));
    }

    #[test]
    fn write_files_entries() {
        let c = ok(concat!(
            "write_files:\n",
            "  - path: /a\n    content: hi\n    permissions: 0644\n",
            "  - path: /b\n    content: aGk=\n    encoding: b64\n    permissions: '0600'\n",
            "  - path: /c\n    content: !!binary aGk=\n    permissions: 755\n",
            "  - path: /d\n    content: H4sIAAAAAAAAA8tIzcnJ5wIAIDA6NgYAAAA=\n    encoding: gz+b64\n    permissions: 0o640\n    owner: bob:staff\n    append: yes\n    defer: true\n",
        ));
        let w = &c.write_files;
        assert_eq!(
            (w[0].mode, w[1].mode, w[2].mode, w[3].mode),
            (0o644, 0o600, 0o755, 0o640)
        );
        assert_eq!(w[1].content, b"hi");
        assert_eq!(w[2].content, b"hi");
        assert_eq!(w[3].content, b"hello\n");
        assert_eq!(w[3].owner, Some(("bob".into(), Some("staff".into()))));
        assert!(w[3].append && w[3].defer && !w[0].defer);

        let e = errs(
            "write_files:\n  - path: etc/x\n  - path: /etc/../../x\n  - path: /x\n    permissions: 0999\n  - path: /y\n    encoding: rot13\n    content: x\n",
        );
        assert_eq!(e.len(), 4, "{e:?}");
        assert_eq!(
            e[0],
            "write_files[0].path: must be an absolute path: 'etc/x' (line 2)"
        );
        assert!(e[1].contains("'..'") && e[1].ends_with("(line 3)"));
        assert!(e[2].starts_with("write_files[2].permissions: expected octal"));
        assert!(e[3].starts_with("write_files[3].encoding: unknown encoding 'rot13'"));
    }

    #[test]
    fn commands_packages_apk_ntp() {
        let c = ok(
            "bootcmd:\n  - echo hi\n  - [touch, /x]\nruncmd: [ls]\npackages: [curl, [vim, 9.1-r0]]\npackage_update: on\npackage_upgrade: no\nautoinstall: True\n",
        );
        assert_eq!(
            c.bootcmd,
            [
                Command::Shell("echo hi".into()),
                Command::Argv(vec!["touch".into(), "/x".into()])
            ]
        );
        assert_eq!(c.packages, ["curl", "vim=9.1-r0"]);
        assert!(c.package_update && !c.package_upgrade && c.autoinstall);
        assert!(errs("packages: [--allow-untrusted]\n")[0].contains("invalid package name"));
        assert!(
            errs("package_update: maybe\n")[0]
                .starts_with("package_update: expected true or false (line 1)")
        );

        let c = ok(
            "apk:\n  cache: /var/cache/apk\n  repositories:\n    - base_url: https://m/alpine/\n      repos: [main]\n    - base_url: https://m/x\n      version: 3.19\n      repos: main\n    - base_url: https://m/y\n      version: .\n      repos: [a]\n",
        );
        assert_eq!(c.apk_cache.as_deref(), Some("/var/cache/apk"));
        assert_eq!(c.apk_repositories[0].base_url, "https://m/alpine");
        assert_eq!(c.apk_repositories[0].version, None);
        assert_eq!(c.apk_repositories[1].version.as_deref(), Some("v3.19"));
        assert_eq!(c.apk_repositories[2].version.as_deref(), Some(""));
        assert!(
            errs("apk:\n  repositories:\n    - repos: [main]\n")[0]
                .contains("'base_url' is required")
        );

        assert_eq!(ok("ntp: {enabled: yes}\n").ntp, Some(NtpClient::Chrony));
        assert_eq!(
            ok("ntp: {enabled: true, ntp_client: busybox}\n").ntp,
            Some(NtpClient::Busybox)
        );
        assert_eq!(ok("ntp: {ntp_client: openntpd}\n").ntp, None);
        assert!(errs("ntp: {enabled: true, ntp_client: xntp}\n")[0].starts_with("ntp.ntp_client"));
    }

    #[test]
    fn syntax_error_line() {
        let e = errs("#cloud-config\nusers:\n  - name: a\n    groups: [x\n");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("YAML syntax error") && e[0].contains("(line "),
            "{e:?}"
        );
    }
}
