//! Build script: link options that shrink the release binary without
//! changing what it does. Shared with `packaging/empty-main`, so the size
//! table's baseline is linked the same way.
//!
//! * `-z pack-relative-relocs` (DT_RELR) stores the ~900 pointer fix-ups a
//!   position-independent executable needs as a bitmap instead of 24-byte
//!   records: about 21 KB less, ASLR kept. Needs glibc >= 2.36 or
//!   musl >= 1.2.4 at run time and binutils >= 2.38 or lld >= 15 to link.
//! * With `panic = "abort"` (our release profile) nothing ever unwinds, so the unwind tables
//!   (`.eh_frame`, its index and `.gcc_except_table`, about 90 KB, nearly
//!   all of it std's, which is shipped pre-compiled with them) are dead
//!   weight. A linker script drops them. The one thing lost is the stack
//!   trace a panic prints under `RUST_BACKTRACE`; the message and location
//!   still print and the process still aborts.
//!
//! Only release builds for Linux get these; `TINY_CLOUD_PLAIN_LINK=1` turns
//! both off (an old libc, or a linker that rejects them).
use std::{env, fs, path::PathBuf};

/// Discards the unwind tables. `INSERT AFTER` makes this an addition to the
/// linker's built-in layout rather than a replacement of it.
const NO_UNWIND_TABLES: &str = "SECTIONS { /DISCARD/ : { *(.eh_frame) \
     *(.gcc_except_table .gcc_except_table.*) } } INSERT AFTER .text;\n";

fn main() {
    println!("cargo:rerun-if-changed={}", file!());
    println!("cargo:rerun-if-env-changed=TINY_CLOUD_PLAIN_LINK");
    let is = |var: &str, want: &str| env::var(var).is_ok_and(|v| v == want);
    if !is("PROFILE", "release")
        || !is("CARGO_CFG_TARGET_OS", "linux")
        || env::var_os("TINY_CLOUD_PLAIN_LINK").is_some_and(|v| !v.is_empty() && v != "0")
    {
        return;
    }
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    // Cargo does not tell build scripts the profile's panic strategy
    // (CARGO_CFG_PANIC is the target default); ours is "abort" unless the
    // builder overrides it through the environment.
    println!("cargo:rerun-if-env-changed=CARGO_PROFILE_RELEASE_PANIC");
    if !is("CARGO_PROFILE_RELEASE_PANIC", "unwind") {
        let out_dir = env::var_os("OUT_DIR").expect("cargo sets OUT_DIR for build scripts");
        let script = PathBuf::from(out_dir).join("no-unwind-tables.ld");
        fs::write(&script, NO_UNWIND_TABLES).expect("cannot write the linker script to OUT_DIR");
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
    }
}
