//! Transparent traffic capture in a Pod's network namespace: the `nat` rules that send the
//! application's outbound TCP to the proxy's outbound port and the Pod's inbound TCP to its
//! inbound port, each with its original destination kept (Envoy reads it back with
//! `SO_ORIGINAL_DST`). `meshctl capture` writes them with `iptables-restore` in the injected
//! init container; [`Capture::rules`] is pure.
//!
//! ```text
//!   inbound  PREROUTING ─▶ MESHCTL_INBOUND ─(excluded port)─▶ RETURN
//!                                          └─▶ MESHCTL_IN_REDIRECT ─▶ REDIRECT :15006
//!   outbound OUTPUT ─▶ MESHCTL_OUTPUT ─(the proxy's user, loopback, excluded)─▶ RETURN
//!                                     └─▶ MESHCTL_REDIRECT ─▶ REDIRECT :15001
//! ```
//!
//! The proxy's own connections (its user) are never captured, or each would loop back into
//! it. Loopback traffic is left alone, except when the proxy sends to the Pod's own address
//! (an application calling its own Service), which goes to the inbound side as it would
//! from another Pod. The proxy delivers inbound traffic from 127.0.0.6, which the rules let
//! through, so it reaches the application instead of being captured again.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::translate::INBOUND_SOURCE;

/// An IPv4 range, `A.B.C.D/N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub address: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Option<Cidr> {
        let (address, prefix) = text.split_once('/').unwrap_or((text, "32"));
        let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32)?;
        Some(Cidr { address: address.parse().ok()?, prefix })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(text: &str) -> Result<Cidr, String> {
        Cidr::parse(text).ok_or_else(|| format!("{text:?} is not an IPv4 range such as 10.0.0.0/8"))
    }
}

/// What to capture in one Pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capture {
    pub outbound_port: u16,
    pub inbound_port: u16,
    /// The user the proxy runs as.
    pub proxy_uid: u32,
    pub exclude_inbound_ports: Vec<u16>,
    pub exclude_outbound_ports: Vec<u16>,
    pub exclude_outbound_ranges: Vec<Cidr>,
}

impl Capture {
    /// The `nat` table, as `iptables-restore` reads it. Restoring it replaces the table, so
    /// running it twice (an init container restarted) leaves the same rules.
    pub fn rules(&self) -> String {
        let uid = self.proxy_uid;
        let mut out = String::from("*nat\n");
        for chain in ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"] {
            writeln!(out, ":{chain} ACCEPT [0:0]").unwrap();
        }
        for chain in ["MESHCTL_INBOUND", "MESHCTL_IN_REDIRECT", "MESHCTL_OUTPUT", "MESHCTL_REDIRECT"] {
            writeln!(out, ":{chain} - [0:0]").unwrap();
        }
        let mut rule = |text: String| {
            out.push_str("-A ");
            out.push_str(&text);
            out.push('\n');
        };
        rule(format!("MESHCTL_REDIRECT -p tcp -j REDIRECT --to-ports {}", self.outbound_port));
        rule(format!("MESHCTL_IN_REDIRECT -p tcp -j REDIRECT --to-ports {}", self.inbound_port));

        rule("PREROUTING -p tcp -j MESHCTL_INBOUND".into());
        for port in &self.exclude_inbound_ports {
            rule(format!("MESHCTL_INBOUND -p tcp --dport {port} -j RETURN"));
        }
        rule("MESHCTL_INBOUND -p tcp -j MESHCTL_IN_REDIRECT".into());

        rule("OUTPUT -p tcp -j MESHCTL_OUTPUT".into());
        for port in &self.exclude_outbound_ports {
            rule(format!("MESHCTL_OUTPUT -p tcp --dport {port} -j RETURN"));
        }
        rule(format!("MESHCTL_OUTPUT -o lo -s {INBOUND_SOURCE}/32 -j RETURN"));
        rule(format!("MESHCTL_OUTPUT -o lo ! -d 127.0.0.1/32 -m owner --uid-owner {uid} -j MESHCTL_IN_REDIRECT"));
        rule(format!("MESHCTL_OUTPUT -o lo -m owner ! --uid-owner {uid} -j RETURN"));
        rule(format!("MESHCTL_OUTPUT -m owner --uid-owner {uid} -j RETURN"));
        rule("MESHCTL_OUTPUT -d 127.0.0.1/32 -j RETURN".into());
        for range in &self.exclude_outbound_ranges {
            rule(format!("MESHCTL_OUTPUT -d {range} -j RETURN"));
        }
        rule("MESHCTL_OUTPUT -j MESHCTL_REDIRECT".into());
        out.push_str("COMMIT\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_as_iptables_reads_them() {
        assert_eq!(Cidr::parse("10.96.0.0/12").unwrap().to_string(), "10.96.0.0/12");
        assert_eq!(Cidr::parse("169.254.169.254").unwrap().to_string(), "169.254.169.254/32");
        for bad in ["10.0.0.0/33", "10.0.0/8", "", "fd00::/8", "10.0.0.0/x"] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_proxy_user_is_exempt_before_anything_is_redirected() {
        let capture = Capture {
            outbound_port: 15001,
            inbound_port: 15006,
            proxy_uid: 1337,
            exclude_inbound_ports: vec![15090, 15021],
            exclude_outbound_ports: vec![5432],
            exclude_outbound_ranges: vec![Cidr::parse("169.254.169.254/32").unwrap()],
        };
        let rules = capture.rules();
        let at = |needle: &str| rules.find(needle).unwrap_or_else(|| panic!("{needle} missing from\n{rules}"));
        assert!(at("--uid-owner 1337 -j RETURN") < at("MESHCTL_OUTPUT -j MESHCTL_REDIRECT"));
        assert!(at("--dport 15090 -j RETURN") < at("MESHCTL_INBOUND -p tcp -j MESHCTL_IN_REDIRECT"));
        assert!(at("--dport 5432 -j RETURN") < at("-s 127.0.0.6/32 -j RETURN"));
        at("-d 169.254.169.254/32 -j RETURN");
        assert!(rules.ends_with("COMMIT\n"));
    }
}
