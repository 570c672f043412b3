//! Committing a run's files all or nothing, under a lock, with temp files nobody can hijack.
//!
//! The protocol (one run = every file of every env it generates, plus the README):
//! 1. **Lock.** `<out>/.gen.lock` is held with `flock` (exclusive to write, shared for
//!    `--check`) for the whole run; a waiting run gives up after `GEN_LOCK_TIMEOUT` seconds.
//! 2. **Recover.** A journal `<out>/.gen-journal` left by a run that died mid-commit is finished
//!    (see 5), and temp files (`.<name>.<random>.gen-tmp`) left by a run that died earlier are
//!    removed: nothing of that run had been made visible.
//! 3. **Stage.** Every new file goes to a temp file in its target's own folder, created with
//!    `O_CREAT|O_EXCL|O_NOFOLLOW` under a random name (an existing path or a planted link is
//!    never opened). Any failure removes the temp files: nothing visible changed.
//! 4. **Journal.** The list of renames and removals, with a checksum of what each target held
//!    when the run read it, is written to a temp file and renamed to `<out>/.gen-journal`.
//! 5. **Commit.** Temp files are renamed over their targets, stale files removed, then the
//!    journal is removed. A failure here puts every target back (the old bytes are in memory)
//!    and removes the journal. A crash here leaves the journal: the next run renames the temp
//!    files still listed, over targets that still hold what the journal says, and removes the
//!    listed files that still hold what it says. So the run is either wholly done or, when
//!    it failed before step 4, wholly undone; readers only ever see whole files.
//!
//! `GEN_FSYNC=1` also fsyncs the temp files, the journal and the folders (durable across a
//! power loss, at about a millisecond per file); without it, the guarantees hold against a
//! crash or kill of `gen` itself, which is what the kernel's page cache survives.

use std::collections::hash_map::RandomState;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::InputError;
use crate::error::Error;

/// The lock file in the output folder.
pub const LOCK: &str = ".gen.lock";
/// The journal of a commit in progress, in the output folder.
pub const JOURNAL: &str = ".gen-journal";
/// The suffix of every temp file.
pub const TMP_SUFFIX: &str = ".gen-tmp";
/// The setting that bounds the wait for the lock, in seconds.
pub const LOCK_TIMEOUT_VAR: &str = "GEN_LOCK_TIMEOUT";
const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);
/// The setting that makes commits durable across a power loss.
pub const FSYNC_VAR: &str = "GEN_FSYNC";

/// What a target held when the run read it.
#[derive(Clone, Debug)]
pub struct Old {
    pub bytes: Vec<u8>,
    pub mode: u32,
}

/// One file the run writes (`Some` contents) or removes (`None`).
#[derive(Clone, Debug)]
pub struct Change {
    pub target: PathBuf,
    pub new: Option<(Vec<u8>, u32)>,
    pub old: Option<Old>,
}

fn io_err(what: &str, p: &Path, e: std::io::Error) -> Error {
    Error::io(p, what, e)
}

/// FNV-1a 64: a checksum to tell whether a target still holds what the journal says.
fn checksum(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The bytes at `p` when it is a regular file (never through a link); `None` when absent.
fn read_regular(p: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match fs::symlink_metadata(p) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
        Ok(m) if !m.is_file() => Err(std::io::Error::other("not a regular file")),
        Ok(_) => fs::read(p).map(Some),
    }
}

// ---------------------------------------------------------------------------------------------
// The lock.

/// A held lock; released when dropped (or when the process dies).
pub struct Lock {
    _file: fs::File,
}

/// The bound on the wait for the lock: `GEN_LOCK_TIMEOUT` seconds, 10 by default.
pub fn lock_timeout() -> Result<Duration, InputError> {
    match std::env::var(LOCK_TIMEOUT_VAR) {
        Err(_) => Ok(DEFAULT_LOCK_TIMEOUT),
        Ok(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 86_400.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| {
                InputError(format!(
                    "{LOCK_TIMEOUT_VAR}={v}: not a number of seconds; fix: set it to e.g. 10 (0 to 86400)"
                ))
            }),
    }
}

/// Whether commits are fsynced (`GEN_FSYNC=1`).
pub fn fsync_wanted() -> bool {
    std::env::var(FSYNC_VAR).is_ok_and(|v| v == "1")
}

/// Take the lock of output folder `root`: exclusive (a run that writes; creates the folder and
/// the lock file) or shared (`--check`; `None` when no run ever wrote there). Waits at most
/// `timeout`, then fails naming the holder.
pub fn lock(root: &Path, exclusive: bool, timeout: Duration) -> Result<Option<Lock>, Error> {
    let path = root.join(LOCK);
    let file = if exclusive {
        fs::create_dir_all(root).map_err(|e| {
            Error::io(root, "create the output folder", e)
                .with("", "make its parent writable or choose another with --out")
        })?;
        fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
    } else {
        match fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
        {
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            r => r,
        }
    }
    .map_err(|e| {
        Error::io(&path, "open the lock", e).with(
            "",
            "make the folder writable, or remove what is at that path",
        )
    })?;
    let op = if exclusive {
        libc::LOCK_EX
    } else {
        libc::LOCK_SH
    };
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), op | libc::LOCK_NB) } == 0 {
        return Ok(Some(Lock { _file: file }));
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
        return Err(io_err("lock", &path, err));
    }
    // Held: wait in a blocking flock on a second descriptor of the same open file (the lock
    // belongs to it, so it stays ours through `file`), up to the bound.
    let waiter = file.try_clone().map_err(|e| io_err("lock", &path, e))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // SAFETY: flock on a descriptor this thread owns.
        let r = unsafe { libc::flock(waiter.as_raw_fd(), op) };
        let _ = tx.send(
            (r == 0)
                .then_some(())
                .ok_or_else(std::io::Error::last_os_error),
        );
    });
    let start = Instant::now();
    let mut said = false;
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        let wait = if said {
            left
        } else {
            left.min(Duration::from_secs(1))
        };
        match rx.recv_timeout(wait) {
            Ok(Ok(())) => return Ok(Some(Lock { _file: file })),
            Ok(Err(e)) => return Err(io_err("lock", &path, e)),
            Err(_) if start.elapsed() >= timeout => {
                return Err(Error::Input(InputError(format!(
                    "{}: another gen run ({}) holds the lock; gave up after {:.1} s; fix: let it finish and run again, or raise {LOCK_TIMEOUT_VAR} (seconds)",
                    path.display(),
                    holder(&file),
                    timeout.as_secs_f64()
                ))));
            }
            Err(_) => {
                eprintln!(
                    "gen: waiting for another gen run ({}) that holds {} (up to {LOCK_TIMEOUT_VAR}={:.1} s)",
                    holder(&file),
                    path.display(),
                    timeout.as_secs_f64()
                );
                said = true;
            }
        }
    }
}

/// Who holds the lock on `file`, from /proc/locks (Linux): "pid N", or "pid unknown".
fn holder(file: &fs::File) -> String {
    let Ok(meta) = file.metadata() else {
        return "pid unknown".into();
    };
    // "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234 0 EOF" (device major:minor in hex, inode).
    let (major, minor) = (libc::major(meta.dev()), libc::minor(meta.dev()));
    let id = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    let me = std::process::id().to_string();
    let locks = fs::read_to_string("/proc/locks").unwrap_or_default();
    let pids: Vec<&str> = locks
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let held = f.get(1) == Some(&"FLOCK") && f.get(5) == Some(&id.as_str());
            (held && f.get(4) != Some(&me.as_str())).then(|| f[4])
        })
        .collect();
    match pids.first() {
        Some(p) => format!("pid {p}"),
        None => "pid unknown".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Temp files.

/// A fresh random temp path next to `target`: `.<name>.<16 hex>.gen-tmp`.
fn tmp_path(target: &Path) -> PathBuf {
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.{:016x}{TMP_SUFFIX}", h.finish()))
}

/// Whether `name` is one of our temp files (also the fixed names older releases used).
pub fn is_tmp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(TMP_SUFFIX)
}

/// Create a new file with `bytes` at the first free path `names` yields: created exclusively,
/// never through a link, never over an existing path. Gives up after 16 taken names.
pub fn create_exclusive(
    names: &mut dyn Iterator<Item = PathBuf>,
    bytes: &[u8],
    mode: u32,
    durable: bool,
) -> std::io::Result<PathBuf> {
    for path in names.take(16) {
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path);
        let mut file = match file {
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
            Ok(f) => f,
        };
        let res = file
            .write_all(bytes)
            .and_then(|_| file.set_permissions(fs::Permissions::from_mode(mode)))
            .and_then(|_| if durable { file.sync_all() } else { Ok(()) });
        if let Err(e) = res {
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        return Ok(path);
    }
    Err(std::io::Error::new(
        ErrorKind::AlreadyExists,
        "16 random temp names in a row were taken (links planted there?)",
    ))
}

fn stage_one(target: &Path, bytes: &[u8], mode: u32, durable: bool) -> Result<PathBuf, Error> {
    let mut names = std::iter::repeat_with(|| tmp_path(target));
    create_exclusive(&mut names, bytes, mode, durable).map_err(|e| {
        let name = target.file_name().unwrap_or_default().to_string_lossy();
        Error::io(
            target.parent().unwrap_or(Path::new(".")),
            &format!("write a temp file next to {name}"),
            e,
        )
        .with("", "make the folder writable or choose another with --out")
    })
}

/// Remove the temp files an interrupted run left in `dir` (only those whose names start with
/// `prefix`, when given); returns how many.
pub fn sweep(dir: &Path, prefix: Option<&str>) -> usize {
    let mut n = 0;
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let regular = e.file_type().is_ok_and(|t| t.is_file());
        if regular && is_tmp_name(&name) && prefix.is_none_or(|p| name.starts_with(p)) {
            n += usize::from(fs::remove_file(e.path()).is_ok());
        }
    }
    n
}

/// The temp files an interrupted run left in `dir` (for `--check`).
pub fn leftovers(dir: &Path, prefix: Option<&str>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            is_tmp_name(&name) && prefix.is_none_or(|x| name.starts_with(x))
        })
        .collect();
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------------
// The journal and the commit.

#[derive(Serialize, Deserialize, Debug, Default)]
struct Journal {
    /// Temp file to rename over its target, with the checksum of what the target held
    /// (`None`: it did not exist).
    renames: Vec<(String, String, Option<String>)>,
    /// File to remove, with the checksum of what it held.
    removes: Vec<(String, String)>,
}

impl Journal {
    /// An entry gen never writes: a temp file that is not a temp file of its target, next to
    /// it; a removal outside the env folders of `root`. Such a journal is not obeyed.
    fn suspicious(&self, root: &Path) -> Option<&str> {
        for (tmp, target, _) in &self.renames {
            let (t, g) = (Path::new(tmp), Path::new(target));
            let name = g.file_name().unwrap_or_default().to_string_lossy();
            let tname = t.file_name().unwrap_or_default().to_string_lossy();
            let ok = t.parent() == g.parent()
                && is_tmp_name(&tname)
                && tname.starts_with(&format!(".{name}."));
            if !ok {
                return Some(tmp);
            }
        }
        let real = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        self.removes
            .iter()
            .map(|(target, _)| target.as_str())
            .find(|t| Path::new(t).parent().and_then(Path::parent).map(real) != Some(real(root)))
    }
}

/// What a recovery or a commit did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Done {
    pub replaced: usize,
    pub removed: usize,
    /// Targets changed by someone else since the interrupted run read them: left as they are.
    pub skipped: Vec<PathBuf>,
}

fn utf8(p: &Path) -> Result<String, Error> {
    let abs = std::path::absolute(p).map_err(|e| io_err("resolve", p, e))?;
    abs.to_str().map(str::to_owned).ok_or_else(|| {
        Error::Input(InputError(format!(
            "{}: the path is not UTF-8; fix: choose another output folder with --out",
            p.display()
        )))
    })
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Write every change of a run, all or nothing (see the module comment). `root` is the output
/// folder that holds the lock and the journal; the caller holds the lock.
pub fn commit(root: &Path, changes: &[Change], durable: bool) -> Result<(), Error> {
    if changes.is_empty() {
        return Ok(());
    }
    // 3. Stage (new env folders are created here, and removed again if staging fails).
    let mut staged: Vec<Option<PathBuf>> = Vec::new();
    let mut made: Vec<PathBuf> = Vec::new();
    let unstage = |staged: &[Option<PathBuf>], made: &[PathBuf]| {
        for t in staged.iter().flatten() {
            let _ = fs::remove_file(t);
        }
        for d in made.iter().rev() {
            let _ = fs::remove_dir(d);
        }
    };
    for c in changes {
        let res = match &c.new {
            Some((bytes, mode)) => make_parent(&c.target, &mut made)
                .and_then(|_| stage_one(&c.target, bytes, *mode, durable))
                .map(Some),
            None => Ok(None),
        };
        match res {
            Ok(t) => staged.push(t),
            Err(e) => {
                unstage(&staged, &made);
                return Err(e);
            }
        }
    }
    // 4. Journal.
    let journal = match write_journal(root, changes, &staged, durable) {
        Ok(j) => j,
        Err(e) => {
            unstage(&staged, &made);
            return Err(e);
        }
    };
    // 5. Commit; on failure put back what was done.
    for (i, (c, tmp)) in changes.iter().zip(&staged).enumerate() {
        let res = match tmp {
            Some(t) => fs::rename(t, &c.target).map_err(|e| io_err("replace", &c.target, e)),
            None => fs::remove_file(&c.target).map_err(|e| io_err("remove", &c.target, e)),
        };
        if let Err(e) = res {
            unstage(&staged[i..], &[]);
            let failed = rollback(&changes[..i]);
            let _ = fs::remove_file(&journal);
            return Err(match failed.is_empty() {
                true => e.with(
                    "; every file was put back as it was",
                    "make it writable (see chmod, chattr) or choose another folder with --out",
                ),
                false => e.with(
                    &format!("; and these could not be put back: {}", failed.join(", ")),
                    "restore them with `git checkout`, make the folder writable and run again",
                ),
            });
        }
    }
    if durable {
        let mut dirs: Vec<&Path> = changes.iter().filter_map(|c| c.target.parent()).collect();
        dirs.sort();
        dirs.dedup();
        dirs.into_iter().for_each(sync_dir);
    }
    fs::remove_file(&journal).map_err(|e| io_err("remove", &journal, e))?;
    Ok(())
}

/// Create the folder of `target` when missing, noting each folder made.
fn make_parent(target: &Path, made: &mut Vec<PathBuf>) -> Result<(), Error> {
    let Some(dir) = target.parent() else {
        return Ok(());
    };
    let mut missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
    missing.reverse();
    for d in missing {
        fs::create_dir(d).map_err(|e| {
            Error::io(d, "create the folder", e)
                .with("", "make its parent writable or choose another with --out")
        })?;
        made.push(d.to_path_buf());
    }
    Ok(())
}

fn write_journal(
    root: &Path,
    changes: &[Change],
    staged: &[Option<PathBuf>],
    durable: bool,
) -> Result<PathBuf, Error> {
    let mut j = Journal::default();
    for (c, tmp) in changes.iter().zip(staged) {
        let old = c.old.as_ref().map(|o| checksum(&o.bytes));
        match tmp {
            Some(t) => j.renames.push((utf8(t)?, utf8(&c.target)?, old)),
            None => j.removes.push((utf8(&c.target)?, old.unwrap_or_default())),
        }
    }
    let text = serde_json::to_vec(&j).expect("a journal serializes");
    let path = root.join(JOURNAL);
    let tmp = stage_one(&path, &text, 0o644, durable)?;
    fs::rename(&tmp, &path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_err("write", &path, e)
    })?;
    if durable {
        sync_dir(root);
    }
    Ok(path)
}

/// Put back the targets of `done` changes as the run found them; names those that failed.
fn rollback(done: &[Change]) -> Vec<String> {
    let mut failed = Vec::new();
    for c in done.iter().rev() {
        let res = match &c.old {
            None => fs::remove_file(&c.target).map_err(|e| io_err("remove", &c.target, e)),
            Some(o) => stage_one(&c.target, &o.bytes, o.mode, false).and_then(|t| {
                fs::rename(&t, &c.target).map_err(|e| {
                    let _ = fs::remove_file(&t);
                    io_err("put back", &c.target, e)
                })
            }),
        };
        if res.is_err() {
            failed.push(c.target.display().to_string());
        }
    }
    failed
}

/// Finish the commit an interrupted run left in `root` (see the module comment). `None` when
/// there was none.
pub fn recover(root: &Path) -> Result<Option<Done>, Error> {
    let path = root.join(JOURNAL);
    let bytes = match read_regular(&path) {
        Ok(None) => return Ok(None),
        Ok(Some(b)) => b,
        Err(e) => return Err(io_err("read", &path, e)),
    };
    let bad = |why: String| {
        Error::Input(InputError(format!(
            "{}: not a journal of gen ({why}); fix: remove it, run gen again and review `git status`",
            path.display()
        )))
    };
    let j: Journal = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if let Some(p) = j.suspicious(root) {
        return Err(bad(format!("it names `{p}`")));
    }
    let holds = |target: &Path, sum: Option<&str>| match read_regular(target) {
        Ok(None) => sum.is_none(),
        Ok(Some(b)) => sum == Some(checksum(&b).as_str()),
        Err(_) => false,
    };
    let mut done = Done::default();
    for (tmp, target, old) in &j.renames {
        let (tmp, target) = (Path::new(tmp), Path::new(target));
        if !matches!(read_regular(tmp), Ok(Some(_))) {
            continue; // renamed before the crash
        }
        if holds(target, old.as_deref()) {
            fs::rename(tmp, target).map_err(|e| io_err("replace", target, e))?;
            done.replaced += 1;
        } else {
            let _ = fs::remove_file(tmp);
            done.skipped.push(target.to_path_buf());
        }
    }
    for (target, old) in &j.removes {
        let target = Path::new(target);
        match read_regular(target) {
            Ok(None) => {}
            _ if holds(target, Some(old)) => {
                fs::remove_file(target).map_err(|e| io_err("remove", target, e))?;
                done.removed += 1;
            }
            _ => done.skipped.push(target.to_path_buf()),
        }
    }
    fs::remove_file(&path).map_err(|e| io_err("remove", &path, e))?;
    Ok(Some(done))
}

/// Whether an interrupted commit waits in `root` (for `--check`).
pub fn pending(root: &Path) -> Option<PathBuf> {
    let p = root.join(JOURNAL);
    fs::symlink_metadata(&p).is_ok().then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gen-commit-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_link_planted_at_every_temp_path_is_never_followed() {
        let d = scratch("links");
        let victim = d.join("victim");
        fs::write(&victim, "precious").unwrap();
        let names: Vec<PathBuf> = (0..40).map(|i| d.join(format!(".t.{i}.gen-tmp"))).collect();
        for n in &names {
            std::os::unix::fs::symlink(&victim, n).unwrap();
        }
        // Every name it may use is a link: it gives up and writes nothing.
        let e = create_exclusive(&mut names.iter().cloned(), b"new", 0o644, false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{e}");
        // The first free name after 15 planted links is used, as a new regular file.
        let mut some = names[25..40]
            .iter()
            .cloned()
            .chain([d.join(".t.free.gen-tmp")]);
        let p = create_exclusive(&mut some, b"new", 0o644, true).unwrap();
        assert_eq!(p, d.join(".t.free.gen-tmp"));
        assert!(fs::symlink_metadata(&p).unwrap().is_file());
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        // A dangling link is not followed either (O_EXCL never creates through a link).
        let dangling = d.join(".dangling.gen-tmp");
        std::os::unix::fs::symlink(d.join("nowhere"), &dangling).unwrap();
        assert!(create_exclusive(&mut std::iter::once(dangling), b"x", 0o644, false).is_err());
        assert!(!d.join("nowhere").exists());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn temp_names_are_random_hidden_and_next_to_the_target() {
        let t = Path::new("/x/generated/dev/main.tf.json");
        let (a, b) = (tmp_path(t), tmp_path(t));
        assert_ne!(a, b);
        assert_eq!(a.parent(), t.parent());
        let name = a.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with(".main.tf.json.") && is_tmp_name(name),
            "{name}"
        );
        // Never a name Terraform loads.
        assert!(!name.ends_with(".tf.json") && !name.ends_with(".tf"));
    }

    #[test]
    fn a_failed_rename_puts_every_file_back() {
        let d = scratch("rollback");
        fs::write(d.join("a"), "old a").unwrap();
        fs::create_dir_all(d.join("c/inside")).unwrap(); // a full folder: rename onto it fails
        let w = |n: &str, new: &str, old: Option<&str>| Change {
            target: d.join(n),
            new: Some((new.as_bytes().to_vec(), 0o644)),
            old: old.map(|o| Old {
                bytes: o.as_bytes().to_vec(),
                mode: 0o644,
            }),
        };
        let changes = [
            w("a", "new a", Some("old a")),
            w("b", "new b", None),
            w("c", "new c", None),
        ];
        let e = commit(&d, &changes, false).unwrap_err();
        assert!(
            matches!(&e, Error::Io { doing, .. } if doing == "replace"),
            "{e:?}"
        );
        assert!(e.to_string().contains("every file was put back"), "{e}");
        assert_eq!(fs::read(d.join("a")).unwrap(), b"old a");
        assert!(!d.join("b").exists());
        let names: Vec<String> = fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names
                .iter()
                .all(|n| !n.ends_with(TMP_SUFFIX) && n != JOURNAL),
            "{names:?}"
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_journal_is_finished_only_over_what_it_expects() {
        let root = scratch("recover");
        let d = root.join("dev");
        fs::create_dir_all(&d).unwrap();
        for (n, t) in [("a", "old a"), ("b", "user's b"), ("gone", "old gone")] {
            fs::write(d.join(n), t).unwrap();
        }
        fs::write(d.join(".a.1.gen-tmp"), "new a").unwrap();
        fs::write(d.join(".b.1.gen-tmp"), "new b").unwrap();
        let s = |p: &str| d.join(p).to_str().unwrap().to_string();
        let j = Journal {
            renames: vec![
                (s(".a.1.gen-tmp"), s("a"), Some(checksum(b"old a"))),
                (s(".b.1.gen-tmp"), s("b"), Some(checksum(b"old b"))), // b changed since
                (s(".c.1.gen-tmp"), s("c"), None),                     // renamed already
            ],
            removes: vec![(s("gone"), checksum(b"old gone"))],
        };
        fs::write(root.join(JOURNAL), serde_json::to_vec(&j).unwrap()).unwrap();
        let done = recover(&root).unwrap().unwrap();
        assert_eq!((done.replaced, done.removed), (1, 1));
        assert_eq!(done.skipped, vec![d.join("b")]);
        assert_eq!(fs::read(d.join("a")).unwrap(), b"new a");
        assert_eq!(fs::read(d.join("b")).unwrap(), b"user's b");
        assert!(!d.join("gone").exists() && !root.join(JOURNAL).exists());
        assert!(!d.join(".b.1.gen-tmp").exists());
        assert!(recover(&root).unwrap().is_none());
        // A journal gen never writes is not obeyed: renames of other files, removals elsewhere.
        for j in [
            Journal {
                renames: vec![(s("a"), s("b"), None)],
                removes: vec![],
            },
            Journal {
                renames: vec![],
                removes: vec![(root.join("x").to_str().unwrap().into(), checksum(b""))],
            },
        ] {
            fs::write(root.join(JOURNAL), serde_json::to_vec(&j).unwrap()).unwrap();
            let e = recover(&root).unwrap_err();
            assert!(matches!(e, Error::Input(_)), "{e:?}");
            assert!(e.to_string().contains("not a journal of gen"), "{e}");
        }
        assert_eq!(fs::read(d.join("a")).unwrap(), b"new a");
        fs::remove_dir_all(&root).unwrap();
    }
}
