//! The local mesh's ports, all on 127.0.0.1: choosing them so they never collide, and telling
//! when one has been taken anyway.
//!
//! Every process of a mesh listens on a port the supervisor chose for it (and the controller
//! itself on the xDS port). Two rules keep them apart:
//!
//! - within one mesh, the [`PortAllocator`] knows every port the mesh holds and never hands one
//!   out twice while it is held, even while the process it belongs to is down;
//! - against other processes (another mesh beside this one), a port is chosen by [`reserve`],
//!   which leaves it in TIME_WAIT: Linux does not give a TIME_WAIT port to another `bind(0)` or
//!   to an outgoing connection for about a minute, while an explicit bind with `SO_REUSEADDR`,
//!   which Envoy's listeners and admin endpoint, tokio and Rust's std all set, still succeeds.
//!
//! Checked on Linux 6.18 with Envoy 1.40: with a few hundred ports reserved, 20,000 `bind(0)`
//! calls (with and without `SO_REUSEADDR`) and 3,000 outgoing connections never got one, and
//! Envoy binds its admin endpoint and its listeners on them; without the reservation, `bind(0)`
//! returned one of 200 just-closed ports 291 times in 20,000 (with `SO_REUSEADDR` it draws from
//! about 7,000 ports only: the odd ones in the lower half of the ephemeral range).
//!
//! What slips through (a port someone binds explicitly) is noticed by [`held_elsewhere`] and
//! [`bound_by_envoy`], and the supervisor moves the part that lost its port.

use std::collections::BTreeSet;
use std::io;
use std::net::{SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::time::Duration;

use serde::Deserialize;

/// How many ports the kernel may offer that the mesh already holds before we give up; each try
/// is a fresh random pick from the ephemeral range, so running out means the range is full.
const TRIES: usize = 64;

/// The ports one mesh holds. Fixed ports (the gateway's), ports a previous controller's
/// processes still hold, and every port it handed out count, until released.
pub struct PortAllocator {
    held: BTreeSet<u16>,
    source: Box<dyn FnMut() -> io::Result<u16> + Send>,
}

impl Default for PortAllocator {
    fn default() -> Self {
        PortAllocator::with_source(reserve)
    }
}

impl PortAllocator {
    /// An allocator that takes candidate ports from `source` (the kernel, through [`reserve`],
    /// except in tests).
    pub fn with_source(source: impl FnMut() -> io::Result<u16> + Send + 'static) -> Self {
        PortAllocator { held: BTreeSet::new(), source: Box::new(source) }
    }

    /// A port no part of the mesh holds; held from now on.
    pub fn take(&mut self) -> io::Result<u16> {
        for _ in 0..TRIES {
            let port = (self.source)()?;
            if self.held.insert(port) {
                return Ok(port);
            }
        }
        Err(io::Error::other(format!(
            "no free port on 127.0.0.1: the kernel offered only ports this mesh holds ({} of them) in {TRIES} tries",
            self.held.len()
        )))
    }

    /// Records a port the mesh uses already: one the user chose, or one a running process holds.
    pub fn hold(&mut self, port: u16) {
        self.held.insert(port);
    }

    /// `port`, held; or a new port when it is 0 (none chosen yet).
    pub fn hold_or_take(&mut self, port: u16) -> io::Result<u16> {
        if port == 0 {
            return self.take();
        }
        self.hold(port);
        Ok(port)
    }

    /// Gives up `port`: its process stopped, or moved to another port.
    pub fn release(&mut self, port: u16) {
        self.held.remove(&port);
    }

    /// Replaces `*port`, which another process holds, by a new one.
    pub fn replace(&mut self, port: &mut u16) -> io::Result<()> {
        let new = self.take()?;
        self.release(*port);
        *port = new;
        Ok(())
    }
}

/// A free port, left in TIME_WAIT so that no other `bind(0)` is given it for about a minute;
/// the process it is meant for binds it explicitly (with `SO_REUSEADDR`) moments later.
pub fn reserve() -> io::Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    let port = listener.local_addr()?.port();
    let client = TcpStream::connect(("127.0.0.1", port))?;
    let (accepted, _) = listener.accept()?;
    // The side that closes first keeps TIME_WAIT: the accepted connection, whose local port is
    // the one reserved.
    drop(accepted);
    drop(client);
    Ok(port)
}

/// Whether another socket holds `port` so that neither Envoy nor an application could listen
/// on it: a bind with `SO_REUSEADDR` fails as theirs would. The probe never listens, so it
/// cannot stand in the way of a process binding the port at the same moment.
pub fn held_elsewhere(port: u16) -> bool {
    use rustix::net::{AddressFamily, SocketFlags, SocketType, bind, socket_with, sockopt};
    let probe = socket_with(AddressFamily::INET, SocketType::STREAM, SocketFlags::CLOEXEC, None)
        .and_then(|fd| sockopt::set_socket_reuseaddr(&fd, true).map(|()| fd))
        .and_then(|fd| bind(&fd, &SocketAddrV4::new([127, 0, 0, 1].into(), port)));
    probe == Err(rustix::io::Errno::ADDRINUSE)
}

/// The ports an Envoy's listeners are bound to (warming ones included), from its admin
/// endpoint; `None` when it does not answer.
pub async fn bound_by_envoy(admin: SocketAddr) -> Option<BTreeSet<u16>> {
    let response =
        crate::http::get(admin, "localhost", "/listeners?format=json", Duration::from_millis(500)).await.ok()?;
    (response.status == 200).then(|| listener_ports(&response.body)).flatten()
}

/// The ports in the answer to Envoy's `GET /listeners?format=json`.
fn listener_ports(body: &[u8]) -> Option<BTreeSet<u16>> {
    #[derive(Deserialize)]
    struct Listeners {
        #[serde(default)]
        listener_statuses: Vec<Status>,
    }
    #[derive(Deserialize)]
    struct Status {
        local_address: Option<Address>,
    }
    #[derive(Deserialize)]
    struct Address {
        socket_address: Option<Socket>,
    }
    #[derive(Deserialize)]
    struct Socket {
        #[serde(default)]
        port_value: u16,
    }
    let listeners: Listeners = serde_json::from_slice(body).ok()?;
    Some(
        listeners
            .listener_statuses
            .into_iter()
            .filter_map(|s| s.local_address?.socket_address.map(|a| a.port_value))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_port_is_never_handed_out_again() {
        // A kernel that keeps offering the same few ports, as it may after they are closed.
        let mut offers = [7001, 7001, 7002, 7001, 7002, 7003].into_iter().cycle();
        let mut ports = PortAllocator::with_source(move || Ok(offers.next().unwrap()));
        ports.hold(7003);
        assert_eq!(ports.take().unwrap(), 7001);
        assert_eq!(ports.take().unwrap(), 7002);
        let full = ports.take().unwrap_err().to_string();
        assert!(full.contains("only ports this mesh holds (3 of them)"), "{full}");
        ports.release(7002);
        assert_eq!(ports.take().unwrap(), 7002);
    }

    #[test]
    fn a_replaced_port_is_released_and_its_successor_held() {
        let mut offers = [7001, 7002, 7001].into_iter();
        let mut ports = PortAllocator::with_source(move || Ok(offers.next().unwrap()));
        let mut port = ports.take().unwrap();
        ports.replace(&mut port).unwrap();
        assert_eq!(port, 7002);
        assert_eq!(ports.take().unwrap(), 7001, "the port moved away from is free again");
    }

    #[test]
    fn zero_means_take_one() {
        let mut ports = PortAllocator::with_source(|| Ok(7001));
        assert_eq!(ports.hold_or_take(15080).unwrap(), 15080);
        assert_eq!(ports.hold_or_take(0).unwrap(), 7001);
    }

    #[test]
    fn a_reserved_port_is_not_given_to_another_bind_but_can_be_bound_explicitly() {
        let reserved: BTreeSet<u16> = (0..50).map(|_| reserve().unwrap()).collect();
        for _ in 0..2000 {
            let other = TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port();
            assert!(!reserved.contains(&other), "bind(0) was given reserved port {other}");
        }
        let port = *reserved.first().unwrap();
        assert!(!held_elsewhere(port), "TIME_WAIT does not count as held");
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        assert!(held_elsewhere(port));
        drop(listener);
    }

    #[test]
    fn envoys_listener_list_gives_the_bound_ports() {
        let body = br#"{"listener_statuses": [
            {"name": "inbound", "local_address": {"socket_address": {"address": "127.0.0.1", "port_value": 41597}}},
            {"name": "outbound", "local_address": {"socket_address": {"address": "127.0.0.1", "port_value": 35067}}},
            {"name": "pipe", "local_address": {"pipe": {"path": "/tmp/x"}}}
        ]}"#;
        assert_eq!(listener_ports(body), Some(BTreeSet::from([35067, 41597])));
        assert_eq!(listener_ports(b"{}"), Some(BTreeSet::new()), "no listeners yet");
        assert_eq!(listener_ports(b"not json"), None);
    }
}
