//! `#cloud-config` users, groups and keys: `user`, `groups`, `users` and
//! top-level `ssh_authorized_keys`. Every change goes through `UserDb`, and
//! every step is "ensure", so a re-run adds nothing twice.

use super::Ctx;
use super::users::{install_keys, make_home};
use crate::config::{self, Config, UserEntry, UserSpec};
use crate::error::{Error, Result};
use crate::root::FileSpec;
use crate::userdb::{NewUser, UserDb};

/// `user:` (or a first `users:` entry that is not `default`) names the
/// default user for the rest of the run.
pub fn userdata_user(ctx: &mut Ctx) -> Result<()> {
    let config = config::load(ctx)?;
    match config.default_user() {
        Some(spec) => {
            ctx.settings.cloud_user = spec.name.clone();
            ctx.note(&format!("default user is {}", spec.name));
        }
        None => ctx.note(&format!("default user stays {}", ctx.settings.cloud_user)),
    }
    Ok(())
}

/// How `create_default_user` makes the default user: from its user-data
/// entry when there is one (gecos, shell, …), else `adduser -D` defaults.
/// Returns the spec and whether to make a home directory.
pub fn default_user_spec(ctx: &Ctx, name: &str) -> (NewUser, bool) {
    let spec = ctx
        .config
        .as_deref()
        .and_then(Config::default_user)
        .filter(|s| s.name == name);
    match spec {
        Some(s) => (new_user(s), wants_home(s)),
        None => (
            NewUser {
                name: name.to_string(),
                ..Default::default()
            },
            true,
        ),
    }
}

fn new_user(spec: &UserSpec) -> NewUser {
    NewUser {
        name: spec.name.clone(),
        gecos: spec.gecos.clone().unwrap_or_default(),
        home: spec.homedir.clone(),
        shell: spec.shell.clone(),
        primary_group: spec.primary_group.clone(),
        system: spec.system,
    }
}

/// System users get no home unless one is asked for, as with cloud-init.
fn wants_home(spec: &UserSpec) -> bool {
    !spec.no_create_home && (!spec.system || spec.homedir.is_some())
}

/// `groups:` created if missing, members added. A member that does not
/// exist yet but is created by `users:` is added there instead.
pub fn userdata_groups(ctx: &mut Ctx) -> Result<()> {
    let config = config::load(ctx)?;
    if config.groups.is_empty() {
        ctx.note("no groups in user-data");
        return Ok(());
    }
    let later = user_specs(&config, &ctx.settings.cloud_user);
    let mut db = UserDb::load(&ctx.root)?;
    for group in &config.groups {
        if db.ensure_group(&group.name, false)?.1 {
            ctx.note(&format!("created group {}", group.name));
        }
        for member in &group.members {
            if db.user(member).is_none() {
                if !later.iter().any(|s| &s.name == member) {
                    ctx.warn(&format!(
                        "user {member} does not exist; not added to group {}",
                        group.name
                    ));
                }
                continue;
            }
            if db.add_member(&group.name, member)? {
                ctx.note(&format!("added {member} to group {}", group.name));
            }
        }
    }
    db.save(&ctx.root)
}

/// The users to ensure, in order: the `user:` entry, then `users:` with
/// `default` standing for the default user.
fn user_specs(config: &Config, default_name: &str) -> Vec<UserSpec> {
    let mut specs: Vec<UserSpec> = config.user.iter().cloned().collect();
    for entry in &config.users {
        match entry {
            UserEntry::Default => {
                if !specs.iter().any(|s| s.name == default_name) {
                    specs.push(UserSpec {
                        name: default_name.to_string(),
                        ..Default::default()
                    });
                }
            }
            UserEntry::User(spec) => specs.push(UserSpec::clone(spec)),
        }
    }
    specs
}

pub fn userdata_users(ctx: &mut Ctx) -> Result<()> {
    let config = config::load(ctx)?;
    let specs = user_specs(&config, &ctx.settings.cloud_user);
    if specs.is_empty() {
        ctx.note("no users in user-data");
        return Ok(());
    }
    for spec in &specs {
        ensure_user(ctx, &config, spec)?;
    }
    Ok(())
}

fn ensure_user(ctx: &Ctx, config: &Config, spec: &UserSpec) -> Result<()> {
    let name = &spec.name;
    let mut db = UserDb::load(&ctx.root)?;
    let (user, created) = db.ensure_user(&new_user(spec))?;
    // Its own `groups`, and the top-level groups that list it as a member.
    let mut groups: Vec<&str> = spec.groups.iter().map(String::as_str).collect();
    for g in &config.groups {
        if g.members.iter().any(|m| m == name) && !groups.contains(&g.name.as_str()) {
            groups.push(&g.name);
        }
    }
    let mut joined = Vec::new();
    for group in groups {
        if db.ensure_group(group, false)?.1 {
            ctx.note(&format!("created group {group} for {name}"));
        }
        if db.add_member(group, name)? {
            joined.push(group);
        }
    }
    // Home before passwd is saved: once the user "exists", a re-run won't make it.
    if created && wants_home(spec) {
        make_home(ctx, &user)?;
    }
    db.save(&ctx.root)?;
    let mut what = if created {
        format!("created {name} (uid {})", user.uid)
    } else {
        format!("{name} already exists")
    };
    if !joined.is_empty() {
        what.push_str(&format!(", added to {}", joined.join(" ")));
    }
    ctx.note(&what);

    if !spec.ssh_authorized_keys.is_empty() {
        let added = install_keys(ctx, &user, &spec.ssh_authorized_keys)?;
        ctx.note(&format!("{added} key(s) added for {name}"));
    }
    if !spec.doas.is_empty() {
        let path = ctx.root.path(&format!("/etc/doas.d/{name}.conf"));
        ctx.root
            .add_lines(&path, &spec.doas, FileSpec::mode(0o600))?;
    }
    if !spec.sudo.is_empty() {
        let path = ctx.root.path(&format!("/etc/sudoers.d/{name}"));
        let lines: Vec<String> = spec.sudo.iter().map(|r| format!("{name} {r}")).collect();
        ctx.root.add_lines(&path, &lines, FileSpec::mode(0o440))?;
    }
    Ok(())
}

/// Top-level `ssh_authorized_keys`: for the default user, each key once.
pub fn ssh_authorized_keys(ctx: &mut Ctx) -> Result<()> {
    let config = config::load(ctx)?;
    if config.ssh_authorized_keys.is_empty() {
        ctx.note("no ssh_authorized_keys in user-data");
        return Ok(());
    }
    let name = ctx.settings.cloud_user.clone();
    let user = UserDb::load(&ctx.root)?
        .user(&name)
        .ok_or_else(|| Error::msg(format!("user {name} does not exist")))?;
    let added = install_keys(ctx, &user, &config.ssh_authorized_keys)?;
    ctx.note(&format!("{added} key(s) added for {name}"));
    Ok(())
}
