//! Listening TCP sockets, asked of the kernel over netlink (sock_diag).
//!
//! `ss` asks this way: one `SOCK_DIAG_BY_FAMILY` dump request per address
//! family, for TCP sockets in the LISTEN state only, answered with one
//! `inet_diag_msg` per socket (its address, the uid that created it, its
//! inode). The kernel walks only its table of listening sockets, so this
//! costs tens of microseconds where reading `/proc/net/tcp` walks every
//! connection's bucket. The messages are a fixed, stable ABI
//! (`linux/inet_diag.h`), small enough to build and read by hand here
//! rather than through a netlink crate and its dependencies.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;

use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, recv, sendto, socket,
};

use super::owner::Listener;

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const TCP_LISTEN: u32 = 10;
const HEADER: usize = 16;
/// `struct inet_diag_msg`.
const MESSAGE: usize = 72;
/// Messages read per dump before giving up (a machine with more listening
/// sockets than this is not one bringup runs on).
const MAX_MESSAGES: usize = 65_536;

/// Every listening TCP socket, IPv4 and IPv6.
pub fn listening() -> io::Result<Vec<Listener>> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkSockDiag,
    )?;
    let mut found = Vec::new();
    for family in [nix::libc::AF_INET, nix::libc::AF_INET6] {
        let family = u8::try_from(family).map_err(io::Error::other)?;
        sendto(
            fd.as_raw_fd(),
            &request(family),
            &NetlinkAddr::new(0, 0),
            MsgFlags::empty(),
        )?;
        read_dump(fd.as_raw_fd(), &mut found)?;
    }
    Ok(found)
}

/// `nlmsghdr` + `inet_diag_req_v2` asking for every listening TCP socket.
fn request(family: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + 56);
    out.extend_from_slice(&((HEADER + 56) as u32).to_ne_bytes());
    out.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    out.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    out.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    out.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
    out.push(family);
    out.push(nix::libc::IPPROTO_TCP as u8);
    out.push(0); // no extensions
    out.push(0);
    out.extend_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    // inet_diag_sockid: ports, addresses, interface (all "any"), and
    // INET_DIAG_NOCOOKIE.
    out.extend_from_slice(&[0; 2 + 2 + 16 + 16 + 4]);
    out.extend_from_slice(&[0xff; 8]);
    out
}

fn read_dump(fd: std::os::fd::RawFd, found: &mut Vec<Listener>) -> io::Result<()> {
    let mut buffer = vec![0u8; 32 * 1024];
    let mut seen = 0;
    loop {
        let read = recv(fd, &mut buffer, MsgFlags::empty())?;
        let mut rest = &buffer[..read];
        if rest.is_empty() {
            return Err(io::Error::other("netlink: empty read"));
        }
        while rest.len() >= HEADER {
            let length = u32::from_ne_bytes(field(rest, 0)) as usize;
            let kind = u16::from_ne_bytes(field(rest, 4));
            if length < HEADER || length > rest.len() {
                return Err(io::Error::other("netlink: bad message length"));
            }
            match kind {
                NLMSG_DONE => return Ok(()),
                NLMSG_ERROR => {
                    let errno = rest
                        .get(HEADER..HEADER + 4)
                        .map_or(0, |b| i32::from_ne_bytes(field(b, 0)));
                    return Err(io::Error::from_raw_os_error(errno.saturating_neg()));
                }
                SOCK_DIAG_BY_FAMILY => {
                    if let Some(listener) = rest.get(HEADER..length).and_then(parse) {
                        found.push(listener);
                    }
                }
                _ => {}
            }
            seen += 1;
            if seen > MAX_MESSAGES {
                return Err(io::Error::other("netlink: too many sockets"));
            }
            // Messages are aligned to 4 bytes.
            let next = (length + 3) & !3;
            rest = rest.get(next..).unwrap_or_default();
        }
    }
}

/// One `inet_diag_msg`.
fn parse(message: &[u8]) -> Option<Listener> {
    if message.len() < MESSAGE {
        return None;
    }
    let family = i32::from(message[0]);
    let port = u16::from_be_bytes(field(message, 4));
    let source: [u8; 16] = field(message, 8);
    let ip = if family == nix::libc::AF_INET {
        IpAddr::V4(Ipv4Addr::new(source[0], source[1], source[2], source[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(source))
    };
    Some(Listener {
        address: SocketAddr::new(ip, port),
        uid: u32::from_ne_bytes(field(message, 64)),
        inode: u64::from(u32::from_ne_bytes(field(message, 68))),
    })
}

/// `N` bytes of `bytes` from `at` (zeros past the end, which the length
/// checks above rule out).
fn field<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0; N];
    if let Some(slice) = bytes.get(at..at + N) {
        out.copy_from_slice(slice);
    }
    out
}
