//! `#cloud-config` / `#alpine-config`: the YAML user-data handlers.

use crate::settings::Phase;
use crate::userdata::{insert_after, insert_before};

/// Where the YAML handlers' actions go (contract §4).
pub fn add_actions(phase: Phase, list: &mut Vec<String>) {
    match phase {
        Phase::Main => {
            insert_before(list, "create_default_user", &["userdata_user"]);
            insert_after(
                list,
                "create_default_user",
                &["userdata_groups", "userdata_users"],
            );
            insert_after(
                list,
                "set_hostname",
                &[
                    "userdata_bootcmd",
                    "userdata_write_files",
                    "userdata_ntp",
                    "userdata_apk_cache",
                    "userdata_apk_repositories",
                    "userdata_package_update",
                    "userdata_package_upgrade",
                    "userdata_packages",
                ],
            );
            insert_after(list, "set_ssh_keys", &["ssh_authorized_keys"]);
        }
        Phase::Final => {
            let at = list.len();
            list.splice(
                at..at,
                [
                    "userdata_runcmd".to_string(),
                    "userdata_autoinstall".to_string(),
                ],
            );
        }
        _ => {}
    }
}
