//! The providers, one module each, each behind its own Cargo feature.
//! Order matters for autodetection: NoCloud's explicit signs beat DMI ones.

use crate::cloud::CloudInfo;

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "azure")]
pub mod azure;
#[cfg(feature = "gcp")]
pub mod gcp;
#[cfg(feature = "nocloud")]
pub mod nocloud;
#[cfg(feature = "oci")]
pub mod oci;

pub const ALL: &[CloudInfo] = &[
    #[cfg(feature = "nocloud")]
    nocloud::INFO,
    #[cfg(feature = "aws")]
    aws::INFO,
    #[cfg(feature = "azure")]
    azure::INFO,
    #[cfg(feature = "gcp")]
    gcp::INFO,
    #[cfg(feature = "oci")]
    oci::INFO,
];
