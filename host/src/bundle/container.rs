//! The bundle container: a plain ustar archive written one canonical way (fixed order, mode
//! 0644, owner 0, one timestamp, no user names), so that the same files give the same bytes and
//! a verifier can rebuild the archive and catch a changed byte anywhere, padding included.

use super::VerifyError;

/// One file of the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path inside the archive (`/`-separated, relative).
    pub path: String,
    /// The file's bytes.
    pub bytes: Vec<u8>,
}

/// Longest path the ustar name field holds without the prefix field.
const MAX_PATH: usize = 100;

/// Writes `entries` in order as a ustar archive, every header with modification time `mtime`.
pub fn write(entries: &[Entry], mtime: u64) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        if entry.path.len() > MAX_PATH || !entry.path.is_ascii() {
            return Err(std::io::Error::other(format!(
                "'{}': bundle paths are ASCII and at most {MAX_PATH} bytes",
                entry.path
            )));
        }
        let mut header = tar::Header::new_ustar();
        header.set_path(&entry.path)?;
        header.set_size(entry.bytes.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, entry.bytes.as_slice())?;
    }
    builder.into_inner()
}

/// Reads every entry of an archive, in order, with the first entry's modification time.
/// Only regular files are accepted.
pub fn read(bytes: &[u8]) -> Result<(Vec<Entry>, u64), VerifyError> {
    let bad = |reason: String| VerifyError::NotABundle { reason };
    let mut archive = tar::Archive::new(bytes);
    let mut entries = Vec::new();
    let mut mtime = None;
    let iter = archive
        .entries()
        .map_err(|e| bad(format!("not a tar archive: {e}")))?;
    for (index, entry) in iter.enumerate() {
        let mut entry = entry.map_err(|e| bad(format!("entry {index} cannot be read: {e}")))?;
        let header = entry.header();
        if header.entry_type() != tar::EntryType::Regular {
            return Err(bad(format!(
                "entry {index} is not a regular file ({:?})",
                header.entry_type()
            )));
        }
        mtime.get_or_insert(header.mtime().unwrap_or(0));
        let path = entry
            .path()
            .map_err(|e| bad(format!("entry {index} has an unreadable name: {e}")))?
            .to_str()
            .ok_or_else(|| bad(format!("entry {index} has a name that is not UTF-8")))?
            .to_string();
        let size = entry.size();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data)
            .map_err(|e| bad(format!("'{path}' cannot be read: {e}")))?;
        if data.len() as u64 != size {
            return Err(bad(format!(
                "'{path}' is truncated: {} of {size} bytes",
                data.len()
            )));
        }
        entries.push(Entry { path, bytes: data });
    }
    if entries.is_empty() {
        return Err(bad("the archive holds no file".into()));
    }
    Ok((entries, mtime.unwrap_or(0)))
}

/// Checks that `bytes` is exactly the canonical archive of its own entries; the error names
/// the first differing byte.
pub fn check_canonical(bytes: &[u8], entries: &[Entry], mtime: u64) -> Result<(), VerifyError> {
    let rebuilt = write(entries, mtime).map_err(|e| VerifyError::NotABundle {
        reason: e.to_string(),
    })?;
    if rebuilt == bytes {
        return Ok(());
    }
    let offset = rebuilt
        .iter()
        .zip(bytes)
        .position(|(a, b)| a != b)
        .unwrap_or(rebuilt.len().min(bytes.len()));
    Err(VerifyError::NotCanonical {
        offset,
        expected_len: rebuilt.len(),
        found_len: bytes.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Entry> {
        vec![
            Entry {
                path: "a.txt".into(),
                bytes: b"hello".to_vec(),
            },
            Entry {
                path: "dir/b.bin".into(),
                bytes: vec![7; 700],
            },
        ]
    }

    #[test]
    fn writes_the_same_bytes_twice_and_reads_them_back() {
        let a = write(&sample(), 1_700_000_000).expect("write");
        assert_eq!(a, write(&sample(), 1_700_000_000).expect("write"));
        let (entries, mtime) = read(&a).expect("read");
        assert_eq!(entries, sample());
        assert_eq!(mtime, 1_700_000_000);
        check_canonical(&a, &entries, mtime).expect("canonical");
    }

    #[test]
    fn a_changed_padding_byte_is_not_canonical() {
        let mut a = write(&sample(), 0).expect("write");
        // "hello" ends at 512 + 5; the rest of that block is padding.
        a[512 + 100] = 1;
        let (entries, mtime) = read(&a).expect("padding is not read");
        let err = check_canonical(&a, &entries, mtime).unwrap_err();
        assert!(
            matches!(err, VerifyError::NotCanonical { offset: 612, .. }),
            "{err}"
        );
    }

    #[test]
    fn garbage_is_not_a_bundle() {
        assert!(matches!(
            read(b"definitely not tar"),
            Err(VerifyError::NotABundle { .. })
        ));
        assert!(matches!(
            read(&[0u8; 1024]),
            Err(VerifyError::NotABundle { .. })
        ));
    }
}
