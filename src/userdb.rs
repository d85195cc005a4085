//! The user database (`/etc/passwd`, `/etc/group`, `/etc/shadow`, and
//! `/etc/gshadow` where present), edited natively so it works under any ROOT
//! without `adduser`. Unrelated lines are kept byte for byte.
//!
//! Crash safety: each file is replaced atomically, and `save` writes them so
//! that `/etc/passwd` (which decides whether a user "exists") goes last. A
//! crash in between leaves a group or shadow entry a re-run adopts.

use crate::error::{Error, Result};
use crate::root::{FileSpec, Owner, Root};
use std::path::PathBuf;

/// Where new regular ids start, and where system ids live (below it).
const FIRST_REGULAR_ID: u32 = 1000;
const LAST_REGULAR_ID: u32 = 60000;
const FIRST_SYSTEM_ID: u32 = 100;

/// `[a-z_][a-z0-9_-]*$?`, at most 32 bytes: what shadow-utils and busybox accept.
pub fn valid_name(name: &str) -> bool {
    let body = name.strip_suffix('$').unwrap_or(name);
    let mut chars = body.chars();
    name.len() <= 32
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// A field that will be written into a colon-separated file.
fn valid_field(value: &str) -> bool {
    !value.contains([':', '\n', '\r', '\0'])
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
}

impl User {
    pub fn owner(&self) -> Owner {
        Owner {
            uid: self.uid,
            gid: self.gid,
        }
    }
}

/// What to create; `None` fields take the defaults of `adduser -D`.
#[derive(Clone, Debug, Default)]
pub struct NewUser {
    pub name: String,
    pub gecos: String,
    pub home: Option<String>,
    pub shell: Option<String>,
    /// Primary group name; default: a group named after the user.
    pub primary_group: Option<String>,
    pub system: bool,
}

/// One colon-separated file, kept as lines so unrelated entries survive untouched.
struct Table {
    path: PathBuf,
    lines: Vec<String>,
    changed: bool,
    present: bool,
    default_mode: u32,
}

impl Table {
    fn load(root: &Root, abs: &str, default_mode: u32) -> Result<Table> {
        let path = root.path(abs);
        let text = root.read_opt(&path)?;
        Ok(Table {
            present: text.is_some(),
            lines: text
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect(),
            path,
            changed: false,
            default_mode,
        })
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.lines
            .iter()
            .position(|l| l.split(':').next() == Some(name))
    }

    fn fields(&self, name: &str) -> Option<Vec<&str>> {
        self.find(name).map(|i| self.lines[i].split(':').collect())
    }

    /// Puts `line` in place of the entry `name`, or appends it.
    fn upsert(&mut self, name: &str, line: String) {
        match self.find(name) {
            Some(i) if self.lines[i] == line => {}
            Some(i) => {
                self.lines[i] = line;
                self.changed = true;
            }
            None => {
                self.lines.push(line);
                self.changed = true;
            }
        }
    }

    /// Numeric ids in field 2 (uid or gid).
    fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.lines
            .iter()
            .filter_map(|l| l.split(':').nth(2)?.parse().ok())
    }

    fn save(&mut self, root: &Root) -> Result<()> {
        if self.changed {
            let mut text = self.lines.join("\n");
            text.push('\n');
            root.write(
                &self.path,
                text.as_bytes(),
                FileSpec::mode(self.default_mode),
            )?;
            self.changed = false;
            self.present = true;
        }
        Ok(())
    }
}

pub struct UserDb {
    passwd: Table,
    group: Table,
    shadow: Table,
    gshadow: Table,
}

impl UserDb {
    pub fn load(root: &Root) -> Result<UserDb> {
        Ok(UserDb {
            passwd: Table::load(root, "/etc/passwd", 0o644)?,
            group: Table::load(root, "/etc/group", 0o644)?,
            shadow: Table::load(root, "/etc/shadow", 0o640)?,
            gshadow: Table::load(root, "/etc/gshadow", 0o640)?,
        })
    }

    /// Writes what changed; passwd last, since it is what makes a user exist.
    pub fn save(&mut self, root: &Root) -> Result<()> {
        self.gshadow.save(root)?;
        self.group.save(root)?;
        self.shadow.save(root)?;
        self.passwd.save(root)
    }

    pub fn user(&self, name: &str) -> Option<User> {
        let f = self.passwd.fields(name)?;
        if f.len() < 7 {
            return None;
        }
        Some(User {
            name: f[0].to_string(),
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5].to_string(),
            shell: f[6].to_string(),
        })
    }

    pub fn group_gid(&self, name: &str) -> Option<u32> {
        self.group.fields(name)?.get(2)?.parse().ok()
    }

    pub fn group_members(&self, name: &str) -> Vec<String> {
        self.group
            .fields(name)
            .and_then(|f| f.get(3).map(|m| split_members(m)))
            .unwrap_or_default()
    }

    /// `user:group` names → ids, for `write_files` owners and the like.
    pub fn resolve_owner(&self, user: &str, group: Option<&str>) -> Option<Owner> {
        let u = self.user(user)?;
        let gid = match group {
            Some(g) => self.group_gid(g)?,
            None => u.gid,
        };
        Some(Owner { uid: u.uid, gid })
    }

    fn free_id(&self, used: Vec<u32>, system: bool) -> Result<u32> {
        let (lo, hi) = if system {
            (FIRST_SYSTEM_ID, FIRST_REGULAR_ID - 1)
        } else {
            (FIRST_REGULAR_ID, LAST_REGULAR_ID)
        };
        (lo..=hi)
            .find(|id| !used.contains(id))
            .ok_or_else(|| Error::msg(format!("no free id between {lo} and {hi}")))
    }

    /// Creates the group unless it exists; returns its gid and whether it was new.
    pub fn ensure_group(&mut self, name: &str, system: bool) -> Result<(u32, bool)> {
        check_name("group", name)?;
        if let Some(gid) = self.group_gid(name) {
            return Ok((gid, false));
        }
        let gid = self.free_id(self.group.ids().collect(), system)?;
        self.group.upsert(name, format!("{name}:x:{gid}:"));
        if self.gshadow.present {
            self.gshadow.upsert(name, format!("{name}:!::"));
        }
        Ok((gid, true))
    }

    /// Adds `user` to `group`'s member list; returns whether it was added.
    pub fn add_member(&mut self, group: &str, user: &str) -> Result<bool> {
        check_name("user", user)?;
        let Some(i) = self.group.find(group) else {
            return Err(Error::msg(format!("group {group} does not exist")));
        };
        let mut fields: Vec<String> = self.group.lines[i].split(':').map(str::to_string).collect();
        fields.resize(4.max(fields.len()), String::new());
        let mut members = split_members(&fields[3]);
        if members.iter().any(|m| m == user) {
            return Ok(false);
        }
        members.push(user.to_string());
        fields[3] = members.join(",");
        self.group.lines[i] = fields.join(":");
        self.group.changed = true;
        if let Some(j) = self.gshadow.find(group) {
            let mut f: Vec<String> = self.gshadow.lines[j]
                .split(':')
                .map(str::to_string)
                .collect();
            f.resize(4.max(f.len()), String::new());
            let mut m = split_members(&f[3]);
            if !m.iter().any(|x| x == user) {
                m.push(user.to_string());
                f[3] = m.join(",");
                self.gshadow.lines[j] = f.join(":");
                self.gshadow.changed = true;
            }
        }
        Ok(true)
    }

    /// Adds a user (and its primary group) unless the user exists.
    /// Returns the user and whether it was created.
    pub fn ensure_user(&mut self, spec: &NewUser) -> Result<(User, bool)> {
        check_name("user", &spec.name)?;
        if let Some(u) = self.user(&spec.name) {
            return Ok((u, false));
        }
        let home = spec
            .home
            .clone()
            .unwrap_or_else(|| format!("/home/{}", spec.name));
        let shell = spec.shell.clone().unwrap_or_else(|| "/bin/sh".to_string());
        for (what, value) in [("gecos", &spec.gecos), ("home", &home), ("shell", &shell)] {
            if !valid_field(value) {
                return Err(Error::msg(format!(
                    "{}: invalid {what} '{value}'",
                    spec.name
                )));
            }
        }
        let group_name = spec
            .primary_group
            .clone()
            .unwrap_or_else(|| spec.name.clone());
        let (gid, _) = self.ensure_group(&group_name, spec.system)?;
        let uid = self.free_id(self.passwd.ids().collect(), spec.system)?;
        let name = &spec.name;
        // `*`, not `!`: OpenSSH without PAM treats `!` as locked even for keys.
        let days = days_since_epoch();
        self.shadow
            .upsert(name, format!("{name}:*:{days}:0:99999:7:::"));
        self.passwd.upsert(
            name,
            format!("{name}:x:{uid}:{gid}:{}:{home}:{shell}", spec.gecos),
        );
        let user = User {
            name: name.clone(),
            uid,
            gid,
            home,
            shell,
        };
        Ok((user, true))
    }
}

fn split_members(field: &str) -> Vec<String> {
    field
        .split(',')
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .collect()
}

fn check_name(what: &str, name: &str) -> Result<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(Error::msg(format!(
            "invalid {what} name '{name}' (want [a-z_][a-z0-9_-]*, at most 32 characters)"
        )))
    }
}

fn days_since_epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86400)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn root_with(files: &[(&str, &str)]) -> (Root, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "tc-userdb-{}-{}",
            std::process::id(),
            files.len() as u64 * 1000 + files.iter().map(|f| f.1.len() as u64).sum::<u64>()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("etc")).unwrap();
        for (p, t) in files {
            fs::write(dir.join(p.trim_start_matches('/')), t).unwrap();
        }
        (Root::new(&dir), dir)
    }

    #[test]
    fn names() {
        for ok in ["alpine", "_x", "a-b_c9", "machine$"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "Alpine", "9a", "a:b", "a b", "-a", &"a".repeat(33)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn creates_user_group_shadow_and_is_idempotent() {
        let (root, dir) = root_with(&[
            (
                "/etc/passwd",
                "root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n",
            ),
            (
                "/etc/group",
                "root:x:0:root\nwheel:x:10:root\nbob:x:1000:\n",
            ),
            ("/etc/shadow", "root:*::0:::::\nbob:*::0:::::\n"),
        ]);
        let mut db = UserDb::load(&root).unwrap();
        let spec = NewUser {
            name: "alpine".into(),
            ..Default::default()
        };
        let (u, created) = db.ensure_user(&spec).unwrap();
        assert!(created);
        assert_eq!((u.uid, u.gid), (1001, 1001));
        assert!(db.add_member("wheel", "alpine").unwrap());
        assert!(!db.add_member("wheel", "alpine").unwrap());
        db.save(&root).unwrap();

        let mut db = UserDb::load(&root).unwrap();
        assert!(!db.ensure_user(&spec).unwrap().1);
        assert!(!db.add_member("wheel", "alpine").unwrap());
        let group = fs::read_to_string(dir.join("etc/group")).unwrap();
        assert!(group.contains("wheel:x:10:root,alpine\n"), "{group}");
        assert!(group.contains("alpine:x:1001:\n"), "{group}");
        let shadow = fs::read_to_string(dir.join("etc/shadow")).unwrap();
        assert!(
            shadow.lines().any(|l| l.starts_with("alpine:*:")),
            "{shadow}"
        );
    }

    #[test]
    fn adopts_group_left_by_a_crash() {
        let (root, _dir) = root_with(&[
            ("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
            ("/etc/group", "root:x:0:\nalpine:x:1000:\n"),
            ("/etc/shadow", "root:*::0:::::\nalpine:*:1:0:99999:7:::\n"),
        ]);
        let mut db = UserDb::load(&root).unwrap();
        let (u, created) = db
            .ensure_user(&NewUser {
                name: "alpine".into(),
                ..Default::default()
            })
            .unwrap();
        assert!(created);
        assert_eq!(u.gid, 1000);
        assert_eq!(
            db.shadow
                .lines
                .iter()
                .filter(|l| l.starts_with("alpine:"))
                .count(),
            1
        );
    }

    #[test]
    fn rejects_bad_fields() {
        let (root, _dir) = root_with(&[("/etc/passwd", ""), ("/etc/group", "")]);
        let mut db = UserDb::load(&root).unwrap();
        let bad = NewUser {
            name: "x".into(),
            gecos: "a:b".into(),
            ..Default::default()
        };
        assert!(db.ensure_user(&bad).is_err());
        let bad = NewUser {
            name: "Root".into(),
            ..Default::default()
        };
        assert!(db.ensure_user(&bad).is_err());
    }
}
