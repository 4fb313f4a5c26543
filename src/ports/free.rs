//! Is a port free? Asked the way a server would find out: by binding it.
//!
//! The check binds a socket with `SO_REUSEADDR`, as servers do, so a port
//! whose last connection is in TIME_WAIT counts as free (the server will be
//! able to bind it), and closes it at once. It binds the address the
//! service will use, plus the matching IPv6 address in v6-only mode (`::1`
//! for 127.0.0.1, `::` for 0.0.0.0): a process listening there would not
//! stop the service from binding, but it would answer every client that
//! tries `localhost` over IPv6 first, which is a conflict all the same.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};

/// `Ok` when a server could bind `host:port` now; the error says why not
/// (`AddrInUse`, `PermissionDenied` for a privileged port, or
/// `AddrNotAvailable` for an address that is not this machine's).
pub fn check(host: IpAddr, port: u16) -> io::Result<()> {
    try_bind(SocketAddr::new(host, port), false)?;
    if let Some(twin) = ipv6_twin(host) {
        match try_bind(SocketAddr::new(twin, port), true) {
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => return Err(e),
            // No IPv6 on this machine: nothing can hold the twin either.
            _ => {}
        }
    }
    Ok(())
}

/// Binds `addr` like a server would (SO_REUSEADDR) and closes it again.
pub fn try_bind(addr: SocketAddr, v6_only: bool) -> io::Result<()> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(v6_only)?;
    }
    socket.bind(&addr.into())
}

/// The IPv6 address that, if held, would take `host`'s clients.
fn ipv6_twin(host: IpAddr) -> Option<IpAddr> {
    match host {
        IpAddr::V4(v4) if v4.is_loopback() => Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        IpAddr::V4(v4) if v4 == Ipv4Addr::UNSPECIFIED => Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn a_listening_port_is_taken_and_a_closed_one_free() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(
            check(LOCAL, port).unwrap_err().kind(),
            io::ErrorKind::AddrInUse
        );
        drop(listener);
        assert!(check(LOCAL, port).is_ok());
    }

    #[test]
    fn a_wildcard_holder_collides_with_loopback() {
        let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(
            check(LOCAL, port).unwrap_err().kind(),
            io::ErrorKind::AddrInUse
        );
    }

    #[test]
    fn an_ipv6_localhost_holder_is_a_conflict_too() {
        let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
            return; // no IPv6 here
        };
        let port = listener.local_addr().unwrap().port();
        assert_eq!(
            check(LOCAL, port).unwrap_err().kind(),
            io::ErrorKind::AddrInUse
        );
    }

    #[test]
    fn time_wait_does_not_count_as_taken() {
        // The server side closes first, so *its* port goes to TIME_WAIT.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (served, _) = listener.accept().unwrap();
        drop(served);
        drop(listener);
        drop(client);
        let time_wait = procfs::net::tcp().unwrap().into_iter().any(|entry| {
            entry.local_address.port() == port && entry.state == procfs::net::TcpState::TimeWait
        });
        assert!(
            time_wait,
            "the test must really leave port {port} in TIME_WAIT"
        );
        assert!(
            check(LOCAL, port).is_ok(),
            "TIME_WAIT must not block a server's bind"
        );
    }
}
