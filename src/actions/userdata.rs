//! Saving user-data, and the handlers for missing, unknown and script
//! user-data.

use super::Ctx;
use crate::error::{Error, IoContext, Result};
use crate::root::FileSpec;
use crate::userdata::UserDataType;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::process::{Command, Stdio};

/// Decompressed user-data may not grow past this (a bomb guard).
pub const MAX_USERDATA: usize = 64 * 1024 * 1024;

pub fn save_userdata(ctx: &mut Ctx) -> Result<()> {
    let path = ctx.settings.var_dir.join("user-data");
    let raw = match ctx.cloud.userdata() {
        Ok(data) => data,
        Err(Error::NotFound(_)) => Vec::new(),
        Err(e) => return Err(e),
    };
    if raw.is_empty() {
        // A stale file from an earlier boot must not be mistaken for this one's.
        ctx.root.remove_file(&path)?;
        ctx.note("no user-data");
        return Ok(());
    }
    let data = decode(&raw)?;
    ctx.root.write(
        &path,
        &data,
        FileSpec::forced(0o600, crate::root::Owner::ROOT),
    )?;
    let kind = UserDataType::of_file(&path);
    ctx.note(&format!(
        "saved {} bytes of {} user-data",
        data.len(),
        kind.name()
    ));
    Ok(())
}

/// Undoes any compression the user applied to fit the cloud's size limit.
fn decode(raw: &[u8]) -> Result<Vec<u8>> {
    crate::decompress::maybe_decompress(raw, MAX_USERDATA)
        .map_err(|e| Error::msg(format!("user-data: {e}")))
}

pub fn missing_userdata(ctx: &mut Ctx) -> Result<()> {
    ctx.note("no user-data to handle");
    Ok(())
}

pub fn unknown_userdata(ctx: &mut Ctx) -> Result<()> {
    let kind = UserDataType::of_file(&ctx.settings.var_dir.join("user-data"));
    ctx.warn(&format!(
        "unknown user-data type '{}'; ignored",
        kind.name()
    ));
    Ok(())
}

/// Runs the user-data script; its output goes to the log file and to our
/// stdout together, its exit code to `user-data.exit`.
pub fn run_userdata(ctx: &mut Ctx) -> Result<()> {
    let script = ctx.settings.var_dir.join("user-data");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700))
        .at("make executable", &script)?;
    let logs = ctx.settings.log_dir.clone();
    ctx.root.create_dir_all(&logs)?;
    let log_path = logs.join("user-data.log");
    let mut log = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&log_path)
        .at("create", &log_path)?;
    std::fs::set_permissions(&log_path, std::fs::Permissions::from_mode(0o600))
        .at("chmod", &log_path)?;

    let (mut reader, writer) = std::io::pipe().map_err(|e| Error::msg(format!("pipe: {e}")))?;
    let writer2 = writer
        .try_clone()
        .map_err(|e| Error::msg(format!("pipe: {e}")))?;
    let mut child = Command::new(&script)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2)
        .spawn()
        .map_err(|e| Error::msg(format!("cannot run {}: {e}", script.display())))?;
    // The parent's copies of the write end are gone with `Command`, so EOF
    // arrives when the script (and anything it left running) closes its copies.
    let mut stdout = std::io::stdout();
    let mut buf = [0u8; 8192];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                log.write_all(&buf[..n]).at("write", &log_path)?;
                let _ = stdout.write_all(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::msg(format!("reading user-data output: {e}"))),
        }
    }
    let _ = stdout.flush();
    let status = child
        .wait()
        .map_err(|e| Error::msg(format!("user-data: {e}")))?;
    let code = status
        .code()
        .unwrap_or(128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0));
    let exit_path = logs.join("user-data.exit");
    ctx.root.write(
        &exit_path,
        format!("{code}\n").as_bytes(),
        FileSpec::mode(0o644),
    )?;
    if code != 0 {
        return Err(Error::msg(format!(
            "user-data script exited with status {code}"
        )));
    }
    Ok(())
}
