//! Keeping the fetched bytes exactly as received (`--save FILE`, or a timestamped copy).

use super::*;

pub(super) fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `YYYYMMDDTHHMMSSZ` in UTC.
pub fn utc_timestamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days, for days since 1970-01-01 (never negative here).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The saved copy's file name: `heapdoc.<host_port>.<endpoint>.<timestamp>[.<n>].<ext>`,
/// `n` telling apart copies made within one second, the extension from the content
/// (`pb.gz`, `pb`, or `txt` for Go's debug text).
pub fn save_name(t: &Target, body: &[u8], now: SystemTime, n: u32) -> String {
    let ext = if body.starts_with(&[0x1f, 0x8b]) {
        "pb.gz"
    } else if looks_like_text(body) {
        "txt"
    } else {
        "pb"
    };
    let n = if n == 0 {
        String::new()
    } else {
        format!(".{n}")
    };
    format!(
        "heapdoc.{}.{}.{}{n}.{ext}",
        t.host_port,
        t.endpoint,
        utc_timestamp(now)
    )
}

pub(super) fn save(
    t: &Target,
    body: &[u8],
    how: &Save,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<PathBuf>> {
    let dir = match how {
        Save::Off => return Ok(None),
        Save::File(path) => {
            crate::output::write_file(path, body)
                .with_context(|| format!("--save {}: cannot write", path.display()))?;
            notify(FetchEvent::Saved(path));
            return Ok(Some(path.clone()));
        }
        Save::Dir(dir) => dir.clone(),
        Save::DefaultDir => match env(SAVE_DIR_ENV).filter(|d| !d.is_empty()) {
            Some(d) => PathBuf::from(d),
            None => match env("HOME").filter(|h| !h.is_empty()) {
                Some(home) => Path::new(&home).join(".heapdoc").join("profiles"),
                None => {
                    notify(FetchEvent::Warning(&format!("not keeping a copy of the fetched profile: neither ${SAVE_DIR_ENV} nor $HOME is set (--save FILE keeps one)")));
                    return Ok(None);
                }
            },
        },
    };
    // The copy is a convenience: failing to keep it must not fail the analysis.
    let now = SystemTime::now();
    let result = std::fs::create_dir_all(&dir)
        .map_err(anyhow::Error::from)
        .and_then(|()| {
            // Two fetches of one endpoint within a second get distinct names.
            for n in 0..100 {
                let path = dir.join(save_name(t, body, now, n));
                match write_new(&path, body) {
                    Ok(()) => return Ok(path),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            bail!("too many copies named {}", save_name(t, body, now, 0))
        });
    match result {
        Ok(path) => {
            notify(FetchEvent::Saved(&path));
            Ok(Some(path))
        }
        Err(e) => {
            notify(FetchEvent::Warning(&format!(
                "cannot keep a copy of the fetched profile in {}: {e:#} (--no-save skips it)",
                dir.display()
            )));
            Ok(None)
        }
    }
}

/// Writes a new file (never over an existing one) through a temporary file in the same
/// directory, then renames it into place, so a reader never sees a partial profile.
pub(super) fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".heapdoc-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    let _guard = crate::output::signals::Guard::new(tmp.path());
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist_noclobber(path).map_err(|e| e.error)?;
    Ok(())
}
