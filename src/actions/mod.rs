//! Actions: plain functions, one per contract §4 entry, looked up by name in
//! one table. Each takes the phase's `Ctx` and either succeeds or returns the
//! one-line reason it failed.

mod cc_system;
mod cc_users;
mod network;
mod system;
mod userdata;
mod users;

pub use users::install_keys;

use crate::cloud::Cloud;
use crate::error::Result;
use crate::log::Log;
use crate::root::Root;
use crate::settings::{Phase, Settings};

/// Everything an action may use: settings → cloud → files.
pub struct Ctx<'a> {
    pub settings: Settings,
    pub root: Root,
    pub log: &'a Log,
    pub phase: Phase,
    pub cloud: Box<dyn Cloud>,
    /// The running action's name, for `note`.
    pub action: &'static str,
    /// The `#cloud-config` user-data, once an action has parsed it.
    pub config: Option<std::rc::Rc<crate::config::Config>>,
}

impl Ctx<'_> {
    /// An informational line about the running action: `<action>: <text>`.
    pub fn note(&self, text: &str) {
        self.log.info(&format!("{}: {text}", self.action));
    }

    pub fn warn(&self, text: &str) {
        self.log.warn(&format!("{}: {text}", self.action));
    }
}

pub type ActionFn = fn(&mut Ctx) -> Result<()>;

pub struct Action {
    pub name: &'static str,
    pub run: ActionFn,
}

const fn action(name: &'static str, run: ActionFn) -> Action {
    Action { name, run }
}

/// Every action there is. Phase lists and handlers refer to these names.
pub const ACTIONS: &[Action] = &[
    action("expand_root", system::expand_root),
    action("install_hotplugs", system::install_hotplugs),
    action("set_ephemeral_network", network::set_ephemeral_network),
    action("set_default_interfaces", network::set_default_interfaces),
    action("set_network_interfaces", network::set_network_interfaces),
    action("enable_sshd", system::enable_sshd),
    action("save_userdata", userdata::save_userdata),
    action("create_default_user", users::create_default_user),
    action("set_hostname", users::set_hostname),
    action("set_ssh_keys", users::set_ssh_keys),
    action("missing_userdata", userdata::missing_userdata),
    action("unknown_userdata", userdata::unknown_userdata),
    action("run_userdata", userdata::run_userdata),
    action("bootstrap_complete", system::bootstrap_complete),
    action("userdata_user", cc_users::userdata_user),
    action("userdata_groups", cc_users::userdata_groups),
    action("userdata_users", cc_users::userdata_users),
    action("ssh_authorized_keys", cc_users::ssh_authorized_keys),
    action("userdata_bootcmd", cc_system::userdata_bootcmd),
    action("userdata_runcmd", cc_system::userdata_runcmd),
    action("userdata_write_files", cc_system::userdata_write_files),
    action("userdata_ntp", cc_system::userdata_ntp),
    action("userdata_apk_cache", cc_system::userdata_apk_cache),
    action(
        "userdata_apk_repositories",
        cc_system::userdata_apk_repositories,
    ),
    action(
        "userdata_package_update",
        cc_system::userdata_package_update,
    ),
    action(
        "userdata_package_upgrade",
        cc_system::userdata_package_upgrade,
    ),
    action("userdata_packages", cc_system::userdata_packages),
    action("userdata_autoinstall", cc_system::userdata_autoinstall),
];

pub fn find(name: &str) -> Option<&'static Action> {
    ACTIONS.iter().find(|a| a.name == name)
}

pub fn exists(name: &str) -> bool {
    find(name).is_some()
}
