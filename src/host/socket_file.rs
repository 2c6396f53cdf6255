//! The control socket's file: claimed only when no live instance answers on it (a stale
//! file left by a crash is replaced), created owner-only (0600), or 0660 for a configured
//! group, so that only root (and that group) can edit the tables or read the counters.

use std::io::{Error, ErrorKind};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// Binds the socket at `path` (non-blocking, for the runtime), with the access above.
pub fn claim(path: &Path, group: Option<&str>) -> std::io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let gid = group.map(group_id).transpose()?;
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_socket() => {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                "the path exists and is not a socket: not removing it",
            ))
        }
        Ok(_) => match UnixStream::connect(path) {
            Ok(_) => {
                return Err(Error::new(
                    ErrorKind::AddrInUse,
                    "another vxswitch instance answers on it: stop it first, or give this one \
                     another [control] socket",
                ))
            }
            // Nobody listens: a stale file from an instance that did not stop cleanly.
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => std::fs::remove_file(path)?,
            Err(e) => return Err(e),
        },
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    // Created with no access for others at all: nobody can connect between bind and chmod.
    let old = rustix::process::umask(rustix::fs::Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(path);
    rustix::process::umask(old);
    let l = bound?;
    if let Some(gid) = gid {
        std::os::unix::fs::chown(path, None, Some(gid))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    }
    l.set_nonblocking(true)?;
    Ok(l)
}

/// A group's id, by name (from /etc/group) or as a number.
fn group_id(name: &str) -> std::io::Result<u32> {
    if let Ok(gid) = name.parse() {
        return Ok(gid);
    }
    let groups = std::fs::read_to_string("/etc/group")?;
    gid_in(&groups, name).ok_or_else(|| {
        Error::new(
            ErrorKind::NotFound,
            format!("no group named {name:?} in /etc/group"),
        )
    })
}

/// The gid of `name` in /etc/group's text (`name:x:gid:members`).
fn gid_in(groups: &str, name: &str) -> Option<u32> {
    groups.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next() == Some(name)).then(|| f.nth(1)?.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn dir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("vxs-sock-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn owner_only_and_a_live_instance_is_not_displaced() {
        let d = dir("live");
        let p = d.join("ctl.sock");
        let live = claim(&p, None).unwrap();
        let mode = std::fs::metadata(&p).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600, "{mode:o}");
        let e = claim(&p, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AddrInUse, "{e}");
        // The live instance still has its socket: a client reaches it.
        assert!(UnixStream::connect(&p).is_ok());
        drop(live);
        // Its file stays behind, stale: the next instance takes it over.
        assert!(p.exists());
        let _next = claim(&p, None).unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_file_that_is_not_a_socket_is_left_alone() {
        let d = dir("file");
        let p = d.join("ctl.sock");
        std::fs::write(&p, "keep me").unwrap();
        let e = claim(&p, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{e}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "keep me");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_group_gets_read_write() {
        let d = dir("group");
        let p = d.join("ctl.sock");
        let _l = claim(&p, Some("0")).unwrap();
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!((m.mode() & 0o777, m.gid()), (0o660, 0));
        let e = claim(&d.join("b.sock"), Some("no-such-group-here")).unwrap_err();
        assert!(e.to_string().contains("no group named"), "{e}");
        assert_eq!(gid_in("root:x:0:\nvxs:x:997:alice\n", "vxs"), Some(997));
        assert_eq!(gid_in("root:x:0:\n", "vxs"), None);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
