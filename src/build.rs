//! Build script: link options that shrink the release binary without
//! changing what it does. Shared with `packaging/empty-main`, so the size
//! table's baseline is linked the same way.
//!
//! * `-z pack-relative-relocs` (DT_RELR) stores the ~900 pointer fix-ups a
//!   position-independent executable needs as a bitmap instead of 24-byte
//!   records: about 21 KB less, ASLR kept. The loader must know DT_RELR
//!   (glibc >= 2.36, musl >= 1.2.4), so this is only done when building on
//!   the target itself and its libc is that new: a binary that needs a
//!   newer loader than the machine it was built on would be a trap.
//! * With `panic = "abort"` (our release profile) nothing ever unwinds, so
//!   the unwind tables (`.eh_frame`, its index and `.gcc_except_table`,
//!   about 90 KB, nearly all of it std's, which is shipped pre-compiled
//!   with them) are dead weight. A linker script drops them. The one thing lost is the stack
//!   trace a panic prints under `RUST_BACKTRACE`; the message and location
//!   still print and the process still aborts.
//!
//! Only release builds for Linux get these; `TINY_CLOUD_PLAIN_LINK=1` turns
//! both off (for a linker that rejects them).
use std::{env, fs, path::PathBuf, process::Command};

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
    if libc_loads_relr() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
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

/// Whether the libc we link against (the build machine's own; a cross build
/// says no) has a loader that applies DT_RELR relocations.
fn libc_loads_relr() -> bool {
    if env::var("HOST").ok() != env::var("TARGET").ok() {
        return false;
    }
    let output = |program: &str, arg: &str| {
        Command::new(program).arg(arg).output().ok().map(|out| {
            // musl's ldd prints its version on stderr and exits 1.
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            text
        })
    };
    let at_least = |text: &str, prefix: &str, want: (u32, u32, u32)| {
        let Some(rest) = text.split(prefix).nth(1) else {
            return false;
        };
        let mut numbers = rest
            .split(|c: char| !c.is_ascii_digit())
            .take_while(|n| !n.is_empty())
            .map(|n| n.parse::<u32>().unwrap_or(0));
        let version = (
            numbers.next().unwrap_or(0),
            numbers.next().unwrap_or(0),
            numbers.next().unwrap_or(0),
        );
        version >= want
    };
    match env::var("CARGO_CFG_TARGET_ENV").as_deref() {
        // "glibc 2.36"
        Ok("gnu") => output("getconf", "GNU_LIBC_VERSION")
            .is_some_and(|v| at_least(&v, "glibc ", (2, 36, 0))),
        // "musl libc (x86_64)\nVersion 1.2.5\n..."
        Ok("musl") => {
            output("ldd", "--version").is_some_and(|v| at_least(&v, "Version ", (1, 2, 4)))
        }
        _ => false,
    }
}
