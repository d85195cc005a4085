//! tiny-cloud: the first-boot bootstrapper for Alpine cloud images.
pub mod decompress;
