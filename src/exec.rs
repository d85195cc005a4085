//! Running the external programs whose work it is (`sfdisk`, `ip`, `apk`, …),
//! looked up on PATH by bare name so tests can put recording fakes first.
//! Arguments are passed as argv, never through a shell.

use crate::error::{Error, Result};
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `program args…`, feeding `input` on stdin; fails unless it exits 0.
/// Its output goes to our stdout/stderr, where the operator sees it.
pub fn run(program: &str, args: &[&str], input: Option<&[u8]>) -> Result<()> {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().map_err(|e| spawn_error(program, e))?;
    if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
        // A program that exits without reading its input is judged by its status.
        let _ = stdin.write_all(data);
    }
    let status = child
        .wait()
        .map_err(|e| Error::msg(format!("{program}: {e}")))?;
    check_status(program, args, status)
}

/// Runs a command and returns its stdout (for `blkid`-style queries).
pub fn output(program: &str, args: &[&str]) -> Result<(bool, String)> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| spawn_error(program, e))?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

pub fn check_status(program: &str, args: &[&str], status: std::process::ExitStatus) -> Result<()> {
    if status.success() {
        return Ok(());
    }
    let how = match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => "was killed by a signal".to_string(),
    };
    Err(Error::msg(format!("'{program} {}' {how}", args.join(" "))))
}

pub fn spawn_error(program: &str, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::msg(format!(
            "cannot run {program}: not found on PATH (install it)"
        ))
    } else {
        Error::msg(format!("cannot run {program}: {e}"))
    }
}
