//! The providers, one module each, each behind its own Cargo feature.
//! Order matters for autodetection: NoCloud's explicit signs beat DMI ones.

use crate::cloud::CloudInfo;

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "nocloud")]
pub mod nocloud;

pub const ALL: &[CloudInfo] = &[
    #[cfg(feature = "nocloud")]
    nocloud::INFO,
    #[cfg(feature = "aws")]
    aws::INFO,
];
