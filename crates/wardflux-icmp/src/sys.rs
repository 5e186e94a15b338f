//! Platform sockets: opening the shared ICMP socket of one address family (Linux).
//!
//! Raw sockets (root or CAP_NET_RAW) are tried first, then unprivileged datagram
//! ("ping") sockets, which Linux allows to groups in `net.ipv4.ping_group_range`.
//! Optionally the sockets are opened inside another network namespace: a socket keeps
//! the namespace it was created in, so a short-lived thread enters the namespace
//! (`setns` is per thread), creates the sockets and hands them back.
//!
//! No `unsafe` is needed: socket2 creates the socket and a `std::net::UdpSocket` wraps
//! the descriptor for `send_to`/`recv_from`, which work the same on raw and datagram
//! ICMP sockets (the kernel fills `sockaddr_in{,6}` with port 0).

use std::io;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};

use socket2::{Domain, Protocol, SockFilter, Socket, Type};

use crate::packet::Family;

/// Which kind of socket to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SocketMode {
    /// Raw first, datagram if raw is not permitted.
    #[default]
    Auto,
    Raw,
    Datagram,
}

/// Which kind of socket was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    Raw,
    Datagram,
}

/// A socket opened for one family, with what the receive path needs to know about it.
#[derive(Debug)]
pub(crate) struct Opened {
    pub socket: UdpSocket,
    pub kind: SocketKind,
    /// Receive buffer size the kernel actually granted (bytes).
    pub recv_buffer: usize,
}

/// Why neither socket kind could be opened for a family.
#[derive(Debug)]
pub(crate) struct OpenFailure {
    pub raw: Option<io::Error>,
    pub datagram: Option<io::Error>,
}

/// Classic BPF for a raw socket: keep only echo replies carrying our identifier.
///
/// A raw ICMP socket gets a copy of every ICMP message the host receives: other programs'
/// replies and, on loopback, our own requests. Filtering in the kernel spares a wakeup and
/// a `recvfrom` per unwanted message (half of all messages when pinging loopback).
fn echo_reply_filter(family: Family, identifier: u16) -> Vec<SockFilter> {
    // Opcodes from linux/filter.h.
    const LD_B_ABS: u16 = 0x30; // A = byte at [k]
    const LD_H_ABS: u16 = 0x28; // A = half-word at [k]
    const LDX_B_MSH: u16 = 0xb1; // X = 4 * ([k] & 0xf): the IPv4 header length
    const LD_B_IND: u16 = 0x50; // A = byte at [X + k]
    const LD_H_IND: u16 = 0x48; // A = half-word at [X + k]
    const JEQ_K: u16 = 0x15; // if A == k skip jt else skip jf
    const RET_K: u16 = 0x06; // accept k bytes (0: drop)
    let id = u32::from(identifier);
    match family {
        // IPv4 raw sockets see the IP header first.
        Family::V4 => vec![
            SockFilter::new(LDX_B_MSH, 0, 0, 0),
            SockFilter::new(LD_B_IND, 0, 0, 0),
            SockFilter::new(JEQ_K, 0, 3, 0), // echo reply
            SockFilter::new(LD_H_IND, 0, 0, 4),
            SockFilter::new(JEQ_K, 0, 1, id),
            SockFilter::new(RET_K, 0, 0, 0x0004_0000),
            SockFilter::new(RET_K, 0, 0, 0),
        ],
        // IPv6 raw sockets start at the ICMPv6 header.
        Family::V6 => vec![
            SockFilter::new(LD_B_ABS, 0, 0, 0),
            SockFilter::new(JEQ_K, 0, 3, 129), // echo reply
            SockFilter::new(LD_H_ABS, 0, 0, 4),
            SockFilter::new(JEQ_K, 0, 1, id),
            SockFilter::new(RET_K, 0, 0, 0x0004_0000),
            SockFilter::new(RET_K, 0, 0, 0),
        ],
    }
}

fn open_kind(
    family: Family,
    kind: SocketKind,
    recv_buffer: usize,
    identifier: u16,
) -> io::Result<Opened> {
    let (domain, proto) = match family {
        Family::V4 => (Domain::IPV4, Protocol::ICMPV4),
        Family::V6 => (Domain::IPV6, Protocol::ICMPV6),
    };
    let ty = match kind {
        SocketKind::Raw => Type::RAW,
        SocketKind::Datagram => Type::DGRAM,
    };
    let socket = Socket::new(domain, ty, Some(proto))?;
    socket.set_nonblocking(true)?;
    socket.set_cloexec(true)?;
    // A large receive buffer absorbs reply bursts of big sweeps. SO_RCVBUFFORCE goes past
    // net.core.rmem_max but needs CAP_NET_ADMIN; otherwise the kernel caps SO_RCVBUF.
    // Both are hints: on failure the kernel's default buffer stays in place.
    let forced = nix::sys::socket::setsockopt(
        &socket,
        nix::sys::socket::sockopt::RcvBufForce,
        &recv_buffer,
    );
    if forced.is_err() {
        let _ = socket.set_recv_buffer_size(recv_buffer);
    }
    if kind == SocketKind::Raw {
        // Without the filter the receive loop still discards what is not ours.
        if let Err(e) = socket.attach_filter(&echo_reply_filter(family, identifier)) {
            tracing::debug!(error = %e, "no BPF filter on the raw ICMP socket");
        }
    }
    let granted = socket.recv_buffer_size().unwrap_or(0);
    Ok(Opened {
        socket: socket.into(),
        kind,
        recv_buffer: granted,
    })
}

/// Opens the socket for one family according to `mode`.
/// Raw sockets only pass echo replies with `identifier` (see [`echo_reply_filter`]).
pub(crate) fn open(
    family: Family,
    mode: SocketMode,
    recv_buffer: usize,
    identifier: u16,
) -> Result<Opened, OpenFailure> {
    let mut failure = OpenFailure {
        raw: None,
        datagram: None,
    };
    if mode != SocketMode::Datagram {
        match open_kind(family, SocketKind::Raw, recv_buffer, identifier) {
            Ok(o) => return Ok(o),
            Err(e) => failure.raw = Some(e),
        }
    }
    if mode != SocketMode::Raw {
        match open_kind(family, SocketKind::Datagram, recv_buffer, identifier) {
            Ok(o) => return Ok(o),
            Err(e) => failure.datagram = Some(e),
        }
    }
    Err(failure)
}

/// Resolves a namespace name (as in `ip netns add NAME`) or a path to its file.
pub(crate) fn netns_path(ns: &Path) -> PathBuf {
    if ns.components().count() == 1 && !ns.is_absolute() {
        Path::new("/run/netns").join(ns)
    } else {
        ns.to_path_buf()
    }
}

/// Runs `f` on a fresh thread that has entered the network namespace `ns` first.
pub(crate) fn in_netns<T: Send + 'static>(
    ns: &Path,
    f: impl FnOnce() -> T + Send + 'static,
) -> io::Result<T> {
    let path = netns_path(ns);
    let file = std::fs::File::open(&path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("network namespace {}: {e}", path.display()),
        )
    })?;
    std::thread::Builder::new()
        .name("wardflux-netns".into())
        .spawn(move || {
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| io::Error::from_raw_os_error(e as i32))?;
            Ok(f())
        })?
        .join()
        .map_err(|_| io::Error::other("namespace thread panicked"))?
}
