//! Running the external programs whose work it is (`sfdisk`, `ip`, `apk`, …),
//! looked up on PATH by bare name so tests can put recording fakes first.
//! Arguments are passed as argv, never through a shell.

use crate::error::{Error, Result};
use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Runs `program args…`, feeding `input` on stdin; fails unless it exits 0.
/// Its output goes to our stdout/stderr, where the operator sees it.
pub fn run(program: &str, args: &[&str], input: Option<&[u8]>) -> Result<()> {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = spawn(&mut cmd, program)?;
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
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stderr(Stdio::inherit());
    let out = output_of(&mut cmd, program)?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

/// Linux's ETXTBSY: "text file busy".
const TEXT_FILE_BUSY: i32 = 26;

/// Starts `cmd`, retrying briefly on ETXTBSY: an executable that was only
/// just written (a package being installed, a test's fake) can still be open
/// for writing in some process forked meanwhile, until that one execs.
pub fn spawn(cmd: &mut Command, program: &str) -> Result<Child> {
    let mut delay = Duration::from_millis(5);
    loop {
        match cmd.spawn() {
            Err(e)
                if e.raw_os_error() == Some(TEXT_FILE_BUSY) && delay < Duration::from_secs(1) =>
            {
                std::thread::sleep(delay);
                delay *= 2;
            }
            other => return other.map_err(|e| spawn_error(program, e)),
        }
    }
}

/// Like `Command::output` (stdout and stderr captured unless set), with `spawn`'s retry.
pub fn output_of(cmd: &mut Command, program: &str) -> Result<Output> {
    cmd.stdout(Stdio::piped());
    spawn(cmd, program)?
        .wait_with_output()
        .map_err(|e| Error::msg(format!("{program}: {e}")))
}

/// Runs `cmd` to completion with `spawn`'s retry; returns its exit status.
pub fn status_of(cmd: &mut Command, program: &str) -> Result<std::process::ExitStatus> {
    spawn(cmd, program)?
        .wait()
        .map_err(|e| Error::msg(format!("{program}: {e}")))
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
