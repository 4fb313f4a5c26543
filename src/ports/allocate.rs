//! Handing out ports: preferred, fallbacks, or any free one of a range.
//!
//! For each candidate port the allocator first takes the port's
//! cross-instance lock ([`super::lock`], machine-wide: whoever runs the
//! other bringup) and only then checks that a server could bind it
//! ([`super::free`]): whoever holds the lock is the only bringup that can
//! be asking, so two instances never hand out one port. A
//! service with `listen = true` gets the real listening socket instead of a
//! check, which closes the last window: from then on the port is bringup's.
//!
//! `port = "auto"` scans the project's range from an offset derived from the
//! project and service names, so a service tends to get the same port run
//! after run (bookmarks keep working) and services spread over the range.
//! Every port passed over is recorded with the reason (its holder, the
//! bringup that locked it), so a conflict can say exactly what happened.

use std::fmt;
use std::io;
use std::net::TcpListener;
use std::ops::RangeInclusive;
use std::path::PathBuf;

use crate::ansi::plain;
use crate::config::plan::{OnConflict, PortSpec};
use crate::ports::free;
use crate::ports::lock::{LockError, LockInfo, PortLock};
use crate::ports::owner::{self, Holder};

/// Who is asking, written into the lock files.
#[derive(Debug, Clone)]
pub struct Identity {
    pub project: String,
    pub config: String,
}

/// Allocates ports for one bringup.
#[derive(Debug)]
pub struct Allocator {
    dir: PathBuf,
    range: RangeInclusive<u16>,
    identity: Identity,
}

/// A port a service got, held for as long as this value lives.
#[derive(Debug)]
pub struct Assignment {
    pub port: u16,
    pub how: PortOrigin,
    lock: PortLock,
    /// The listening socket of a `listen = true` service.
    pub listener: Option<TcpListener>,
}

/// How a service came by its port.
#[derive(Debug)]
pub enum PortOrigin {
    Preferred,
    /// The preferred port (and maybe others) were taken.
    Fallback(Vec<Tried>),
    Auto,
}

/// A port that was passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tried {
    pub port: u16,
    pub reason: Reason,
}

/// Why a port could not be used.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "taken", content = "by")]
pub enum Reason {
    /// Something listens on it (the holders that could be found).
    Held(Vec<Holder>),
    /// Another bringup has handed it out.
    Locked(Option<LockInfo>),
    /// It cannot be bound for another reason (privileged, not local, …).
    Unusable(String),
}

/// The outcome of asking for a port.
#[derive(Debug)]
pub enum Allocation {
    Assigned(Assignment),
    /// The preferred port is held and the service may adopt the holder if
    /// it passes the readiness check (the caller decides).
    Held {
        port: u16,
        holders: Vec<Holder>,
    },
    Conflict(Conflict),
}

/// No port could be had.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub service: String,
    pub tried: Vec<Tried>,
    /// For `port = "auto"`: the range that was exhausted.
    pub range: Option<RangeInclusive<u16>>,
    /// How the service could move elsewhere, given what it asks for.
    pub way_out: WayOut,
}

/// What a conflict message suggests, so that it fits the service's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WayOut {
    /// A fixed port and no fallbacks: add some, or go auto.
    AddFallbacks,
    /// Its fallbacks were tried and are taken too.
    MoreFallbacks,
    /// It has fallbacks, but `on_conflict` keeps it from them.
    UseFallbacks(OnConflict),
    /// `port = "auto"` and the range is used up.
    WidenRange,
}

impl WayOut {
    /// The way out for a service that asks for `spec`.
    pub fn for_spec(spec: &PortSpec) -> Self {
        match (spec.preferred, spec.fallbacks.is_empty(), spec.on_conflict) {
            (None, ..) => WayOut::WidenRange,
            (Some(_), true, _) => WayOut::AddFallbacks,
            (Some(_), false, OnConflict::Fallback) => WayOut::MoreFallbacks,
            (Some(_), false, other) => WayOut::UseFallbacks(other),
        }
    }
}

impl Allocator {
    /// An allocator using the user's shared lock directory.
    pub fn new(
        range: RangeInclusive<u16>,
        identity: Identity,
    ) -> Result<Self, crate::rundir::Error> {
        Ok(Self::with_dir(super::lock::dir()?, range, identity))
    }

    /// An allocator with its locks in `dir` (tests use their own).
    pub fn with_dir(dir: PathBuf, range: RangeInclusive<u16>, identity: Identity) -> Self {
        Self {
            dir,
            range,
            identity,
        }
    }

    /// Finds a port for `service` as `spec` asks.
    pub fn allocate(&self, service: &str, spec: &PortSpec) -> Allocation {
        let mut tried = Vec::new();
        let Some(preferred) = spec.preferred else {
            return self.scan(service, spec);
        };
        let candidates: Vec<u16> = if spec.on_conflict == OnConflict::Fallback {
            std::iter::once(preferred)
                .chain(spec.fallbacks.iter().copied())
                .collect()
        } else {
            vec![preferred]
        };
        for port in candidates {
            match self.try_port(service, spec, port) {
                Ok((lock, listener)) => {
                    let how = if tried.is_empty() {
                        PortOrigin::Preferred
                    } else {
                        PortOrigin::Fallback(tried)
                    };
                    return Allocation::Assigned(Assignment {
                        port,
                        how,
                        lock,
                        listener,
                    });
                }
                Err(Reason::Held(holders)) if spec.on_conflict == OnConflict::Adopt => {
                    return Allocation::Held { port, holders };
                }
                Err(reason) => tried.push(Tried { port, reason }),
            }
        }
        Allocation::Conflict(Conflict {
            service: service.to_string(),
            tried,
            range: None,
            way_out: WayOut::for_spec(spec),
        })
    }

    /// `port = "auto"`: the first usable port of the range, from a stable offset.
    fn scan(&self, service: &str, spec: &PortSpec) -> Allocation {
        let (low, high) = (*self.range.start(), *self.range.end());
        let size = u32::from(high - low) + 1;
        let offset = stable_hash(&format!("{}/{service}", self.identity.project)) % size;
        let mut tried = Vec::new();
        for step in 0..size {
            let port = low + ((offset + step) % size) as u16;
            match self.try_port(service, spec, port) {
                Ok((lock, listener)) => {
                    return Allocation::Assigned(Assignment {
                        port,
                        how: PortOrigin::Auto,
                        lock,
                        listener,
                    });
                }
                // A whole range of reasons says nothing more than a few.
                Err(reason) if tried.len() < 5 => tried.push(Tried { port, reason }),
                Err(_) => {}
            }
        }
        Allocation::Conflict(Conflict {
            service: service.to_string(),
            tried,
            range: Some(self.range.clone()),
            way_out: WayOut::WidenRange,
        })
    }

    /// Locks `port`, then checks (or binds) it.
    fn try_port(
        &self,
        service: &str,
        spec: &PortSpec,
        port: u16,
    ) -> Result<(PortLock, Option<TcpListener>), Reason> {
        let mut lock = match PortLock::acquire(&self.dir, port) {
            Ok(lock) => lock,
            Err(LockError::Held(info)) => return Err(Reason::Locked(info)),
            Err(LockError::Io(e)) => return Err(Reason::Unusable(format!("cannot lock it: {e}"))),
        };
        let listener = if spec.listen {
            Some(TcpListener::bind((spec.host, port)).map_err(|e| reason(e, port))?)
        } else {
            free::check(spec.host, port).map_err(|e| reason(e, port))?;
            None
        };
        let info = LockInfo {
            pid: std::process::id(),
            port,
            project: self.identity.project.clone(),
            service: service.to_string(),
            config: self.identity.config.clone(),
            service_pid: None,
        };
        // The lock works without its description; conflict messages of
        // other bringups are just vaguer then.
        let _ = lock.describe(&info);
        Ok((lock, listener))
    }
}

impl Assignment {
    /// Notes the service's current process in the lock file.
    pub fn set_service_pid(&mut self, info: &LockInfo) {
        let _ = self.lock.describe(info);
    }

    /// Whether the port is still free for the service to bind (someone may
    /// have taken it since it was handed out). A handed-over socket is
    /// bringup's own and cannot be taken.
    pub fn still_free(&self, spec: &PortSpec) -> Result<(), Reason> {
        if self.listener.is_some() {
            return Ok(());
        }
        free::check(spec.host, self.port).map_err(|e| reason(e, self.port))
    }
}

fn reason(error: io::Error, port: u16) -> Reason {
    match error.kind() {
        io::ErrorKind::AddrInUse => Reason::Held(owner::holders(port)),
        io::ErrorKind::PermissionDenied => {
            Reason::Unusable("ports below 1024 need root (or CAP_NET_BIND_SERVICE)".into())
        }
        io::ErrorKind::AddrNotAvailable => {
            Reason::Unusable("the host address is not one of this machine's".into())
        }
        _ => Reason::Unusable(error.to_string()),
    }
}

/// FNV-1a: small, and the same in every build (unlike std's hasher).
fn stable_hash(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Held(holders) if holders.is_empty() => {
                write!(
                    f,
                    "in use (the holder is not visible here; maybe another network namespace)"
                )
            }
            Reason::Held(holders) => {
                let list: Vec<String> = holders.iter().map(ToString::to_string).collect();
                write!(f, "held by {}", list.join(" and "))
            }
            Reason::Locked(Some(info)) if info.pid == std::process::id() => {
                write!(f, "already handed out to `{}` of this stack", info.service)
            }
            // (Another bringup's lock file: its words are not ours.)
            Reason::Locked(Some(info)) => write!(
                f,
                "handed out by another bringup (pid {}) to service `{}` of project {:?}",
                info.pid,
                plain(&info.service),
                info.project
            ),
            Reason::Locked(None) => write!(
                f,
                "handed out by another bringup on this machine (another user's, or one with another runtime directory)"
            ),
            Reason::Unusable(why) => f.write_str(why),
        }
    }
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.range, self.tried.first()) {
            (Some(range), _) => write!(
                f,
                "no free port in {}-{} (e.g. {})",
                range.start(),
                range.end(),
                self.tried
                    .iter()
                    .map(|t| format!("{} {}", t.port, t.reason))
                    .collect::<Vec<_>>()
                    .join("; ")
            )?,
            (None, Some(first)) => {
                write!(f, "port {} is {}", first.port, first.reason)?;
                for other in &self.tried[1..] {
                    write!(f, "; fallback {} is {}", other.port, other.reason)?;
                }
            }
            (None, None) => write!(f, "no port to try")?,
        }
        let ours: Vec<u16> = self
            .tried
            .iter()
            .filter(|t| matches!(&t.reason, Reason::Held(h) if h.iter().any(Holder::is_ours)))
            .map(|t| t.port)
            .collect();
        if let Some(port) = ours.first() {
            write!(f, ". To free it: `bringup ports kill {port}`")?;
        }
        match self.way_out {
            WayOut::AddFallbacks => write!(
                f,
                ". Or let `{}` move: add `fallback_ports = […]` or use `port = \"auto\"`",
                self.service
            )?,
            WayOut::MoreFallbacks => write!(
                f,
                ". Its fallback ports are taken too: add more to `fallback_ports`, or use `port = \"auto\"`"
            )?,
            WayOut::UseFallbacks(on_conflict) => write!(
                f,
                ". `on_conflict = \"{}\"` keeps `{}` off its `fallback_ports`; set `on_conflict = \"fallback\"` to use them",
                on_conflict.as_str(),
                self.service
            )?,
            WayOut::WidenRange => write!(
                f,
                ". Widen `[project] port_range`, or see `bringup ports free`"
            )?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;

    fn spec(preferred: Option<u16>, fallbacks: &[u16], on_conflict: OnConflict) -> PortSpec {
        PortSpec {
            preferred,
            fallbacks: fallbacks.to_vec(),
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            on_conflict,
            listen: false,
            check_owner: true,
        }
    }

    fn allocator(dir: &std::path::Path, range: RangeInclusive<u16>) -> Allocator {
        let identity = Identity {
            project: "test".into(),
            config: "bringup.toml".into(),
        };
        Allocator::with_dir(dir.to_path_buf(), range, identity)
    }

    /// A port nothing holds, and a listener on another.
    fn ports() -> (u16, std::net::TcpListener) {
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        (free, busy)
    }

    #[test]
    fn the_preferred_port_when_free_else_the_first_free_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let (free, busy) = ports();
        let busy_port = busy.local_addr().unwrap().port();
        let a = allocator(dir.path(), 24000..=24999);
        match a.allocate("api", &spec(Some(free), &[], OnConflict::Fail)) {
            Allocation::Assigned(x) => {
                assert!(x.port == free && matches!(x.how, PortOrigin::Preferred))
            }
            other => panic!("{other:?}"),
        }
        // The lock above was dropped with the assignment; take it again via fallback.
        match a.allocate(
            "api",
            &spec(Some(busy_port), &[busy_port, free], OnConflict::Fallback),
        ) {
            Allocation::Assigned(x) => {
                assert_eq!(x.port, free);
                let PortOrigin::Fallback(tried) = &x.how else {
                    panic!("{:?}", x.how)
                };
                assert_eq!(tried.len(), 2);
                assert!(
                    tried[0]
                        .reason
                        .to_string()
                        .contains(&format!("pid {}", std::process::id()))
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_conflict_names_the_holder_and_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let (_, busy) = ports();
        let port = busy.local_addr().unwrap().port();
        let a = allocator(dir.path(), 24000..=24999);
        let Allocation::Conflict(conflict) =
            a.allocate("api", &spec(Some(port), &[], OnConflict::Fail))
        else {
            panic!("expected a conflict");
        };
        let text = conflict.to_string();
        assert!(
            text.starts_with(&format!(
                "port {port} is held by pid {}",
                std::process::id()
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!("bringup ports kill {port}")),
            "{text}"
        );
        assert!(text.contains("port = \"auto\""), "{text}");
    }

    #[test]
    fn the_way_out_fits_what_the_service_asks_for() {
        let dir = tempfile::tempdir().unwrap();
        let (_, busy) = ports();
        let (_, also_busy) = ports();
        let port = busy.local_addr().unwrap().port();
        let fallback = also_busy.local_addr().unwrap().port();
        let a = allocator(dir.path(), 24000..=24999);
        let text = |spec: PortSpec| match a.allocate("api", &spec) {
            Allocation::Conflict(conflict) => conflict.to_string(),
            other => panic!("expected a conflict: {other:?}"),
        };
        // Fallbacks set and taken too: "add fallback_ports" would not help.
        let taken = text(spec(Some(port), &[fallback], OnConflict::Fallback));
        assert!(!taken.contains("add `fallback_ports"), "{taken}");
        assert!(taken.contains("fallback ports are taken too"), "{taken}");
        // Fallbacks set but on_conflict = "fail" keeps it from them.
        let kept = text(spec(Some(port), &[fallback], OnConflict::Fail));
        assert!(
            kept.contains("`on_conflict = \"fail\"` keeps `api` off its `fallback_ports`"),
            "{kept}"
        );
        // None set: add some.
        let none = text(spec(Some(port), &[], OnConflict::Fail));
        assert!(none.contains("add `fallback_ports = […]`"), "{none}");
    }

    #[test]
    fn adopt_hands_the_holder_to_the_caller() {
        let dir = tempfile::tempdir().unwrap();
        let (_, busy) = ports();
        let port = busy.local_addr().unwrap().port();
        let a = allocator(dir.path(), 24000..=24999);
        match a.allocate("api", &spec(Some(port), &[], OnConflict::Adopt)) {
            Allocation::Held { port: p, holders } => assert!(p == port && holders.len() == 1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ports_locked_by_another_bringup_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (free, _busy) = ports();
        let other = allocator(dir.path(), free..=free);
        let Allocation::Assigned(held) = other.allocate("db", &spec(None, &[], OnConflict::Fail))
        else {
            panic!("the only port of the range was free");
        };
        let mine = allocator(dir.path(), free..=free);
        let Allocation::Conflict(conflict) =
            mine.allocate("api", &spec(None, &[], OnConflict::Fail))
        else {
            panic!("the only port is locked");
        };
        // (Both allocators live in this test process, so the lock is "ours".)
        assert!(
            conflict.to_string().contains("already handed out to `db`"),
            "{conflict}"
        );
        drop(held);
        assert!(matches!(
            mine.allocate("api", &spec(None, &[], OnConflict::Fail)),
            Allocation::Assigned(_)
        ));
    }

    #[test]
    fn auto_ports_are_stable_for_a_service_and_spread_across_services() {
        let dir = tempfile::tempdir().unwrap();
        let a = allocator(dir.path(), 24000..=24999);
        let port_of = |service: &str| match a.allocate(service, &spec(None, &[], OnConflict::Fail))
        {
            Allocation::Assigned(x) => x.port,
            other => panic!("{other:?}"),
        };
        assert_eq!(port_of("api"), port_of("api"));
        assert_ne!(port_of("api"), port_of("web"));
    }

    #[test]
    fn listen_gets_the_socket_itself() {
        let dir = tempfile::tempdir().unwrap();
        let (free, _busy) = ports();
        let a = allocator(dir.path(), 24000..=24999);
        let mut listen = spec(Some(free), &[], OnConflict::Fail);
        listen.listen = true;
        let Allocation::Assigned(x) = a.allocate("api", &listen) else {
            panic!("free port")
        };
        let socket = x.listener.as_ref().expect("a listening socket");
        assert_eq!(socket.local_addr().unwrap().port(), free);
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", free)).is_ok(),
            "it listens already"
        );
        assert!(x.still_free(&listen).is_ok());
    }
}
