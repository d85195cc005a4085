//! tiny-cloud: the first-boot bootstrapper for Alpine cloud images.
//!
//! Data flows one way: `settings` → `cloud` (through `imds`) → `actions`
//! (run by `phase`) → files under `root`.

pub mod actions;
pub mod base64;
pub mod cli;
pub mod cloud;
#[path = "../clouds/mod.rs"]
pub mod clouds;
pub mod config;
pub mod decompress;
pub mod error;
pub mod exec;
pub mod http;
pub mod imds;
pub mod imds_cli;
pub mod log;
pub mod phase;
pub mod root;
pub mod settings;
pub mod userdata;
pub mod userdb;
