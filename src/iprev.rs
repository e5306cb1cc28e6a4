//! iprev / forward-confirmed reverse DNS (RFC 8601 §3, §2.7.3).
//!
//! The client IP's PTR names are looked up, then each name's A (IPv4
//! client) or AAAA (IPv6 client) records; the check passes when any name's
//! addresses include the client IP. An IPv4-mapped IPv6 client
//! (`::ffff:a.b.c.d`) is treated as the IPv4 address it carries.
//!
//! | result | when |
//! |---|---|
//! | `pass` | some PTR name forward-resolves to the client IP |
//! | `fail` | the forward lookups completed (NXDOMAIN/NODATA included) and none matched |
//! | `permerror` | no PTR data: NXDOMAIN or NODATA on the PTR query |
//! | `temperror` | SERVFAIL/timeout on the PTR query, or on a forward lookup when no name validated |
//!
//! At most [`IprevConfig::max_names`] PTR names (default 10, the limit
//! RFC 7208 §4.6.4 uses for the same algorithm) are checked; their forward
//! lookups run concurrently. A PTR name that is not a valid host name is
//! skipped and never echoed into results.
//!
//! ```
//! use sender_auth::dns::zone::ZoneResolver;
//! use sender_auth::iprev::{self, IprevConfig, IprevResult};
//!
//! let ip = "192.0.2.25".parse().unwrap();
//! let mut zone = ZoneResolver::new();
//! zone.add_ptr(ip, "mail.example.com")
//!     .add_ip("mail.example.com", ip);
//! let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! let out = rt.block_on(iprev::check(&zone, ip, &IprevConfig::default()));
//! assert_eq!(out.result, IprevResult::Pass);
//! assert_eq!(out.names, ["mail.example.com"]);
//! ```

use std::fmt;
use std::net::IpAddr;

use futures_util::future::join_all;

use crate::authres::ResInfo;
use crate::dns::{DnsError, Resolver, canonical_ip, check_name};

/// iprev limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IprevConfig {
    /// Most PTR names whose forward records are checked (default 10); the
    /// rest are ignored.
    pub max_names: usize,
}

impl Default for IprevConfig {
    fn default() -> Self {
        IprevConfig { max_names: 10 }
    }
}

/// The iprev result words of RFC 8601 §2.7.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IprevResult {
    /// Forward-confirmed.
    Pass,
    /// The forward lookups completed and none matched the client IP.
    Fail,
    /// A transient DNS failure prevented a decision.
    TempError,
    /// No PTR data is published for the client IP.
    PermError,
}

impl IprevResult {
    /// The RFC 8601 result word.
    pub fn as_str(self) -> &'static str {
        match self {
            IprevResult::Pass => "pass",
            IprevResult::Fail => "fail",
            IprevResult::TempError => "temperror",
            IprevResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for IprevResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of an iprev check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IprevOutput {
    /// The result.
    pub result: IprevResult,
    /// The client IP as checked (IPv4-mapped addresses unwrapped).
    pub ip: IpAddr,
    /// The PTR names whose forward records include the IP (empty unless
    /// `pass`), lower-case, in PTR answer order.
    pub names: Vec<String>,
    /// Why, in a few words.
    pub reason: String,
}

/// True when `name` is a syntactically valid host name: LDH labels
/// (letters, digits, hyphens; no leading or trailing hyphen; `_` tolerated
/// as seen in the wild), within DNS length limits.
pub fn is_host_name(name: &str) -> bool {
    check_name(name).is_ok()
        && name.strip_suffix('.').unwrap_or(name).split('.').all(|l| {
            l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

enum Forward {
    Match,
    NoMatch,
    Temp,
}

async fn forward<R: Resolver + ?Sized>(resolver: &R, name: &str, ip: IpAddr) -> Forward {
    let res = match ip {
        IpAddr::V4(v4) => resolver.a(name).await.map(|a| a.records.contains(&v4)),
        IpAddr::V6(v6) => resolver.aaaa(name).await.map(|a| a.records.contains(&v6)),
    };
    match res {
        Ok(true) => Forward::Match,
        Ok(false) => Forward::NoMatch,
        Err(e) if e.is_temporary() => Forward::Temp,
        Err(_) => Forward::NoMatch,
    }
}

/// Runs the iprev check for `ip`.
pub async fn check<R: Resolver + ?Sized>(
    resolver: &R,
    ip: IpAddr,
    config: &IprevConfig,
) -> IprevOutput {
    let ip = canonical_ip(ip);
    let out = |result, names, reason: &str| IprevOutput {
        result,
        ip,
        names,
        reason: reason.to_string(),
    };
    let ptr = match resolver.ptr(ip).await {
        Ok(a) => a,
        Err(DnsError::NxDomain) => {
            return out(IprevResult::PermError, vec![], "no PTR record (NXDOMAIN)");
        }
        Err(DnsError::NoData) => {
            return out(IprevResult::PermError, vec![], "no PTR record (NODATA)");
        }
        Err(e) if e.is_temporary() => {
            return out(
                IprevResult::TempError,
                vec![],
                &format!("PTR lookup failed: {e}"),
            );
        }
        Err(e) => return out(IprevResult::PermError, vec![], &format!("PTR lookup: {e}")),
    };
    let mut names: Vec<String> = Vec::new();
    for n in ptr.records.iter() {
        let n = n.strip_suffix('.').unwrap_or(n).to_ascii_lowercase();
        if is_host_name(&n) && !names.contains(&n) {
            names.push(n);
            if names.len() >= config.max_names {
                break;
            }
        }
    }
    if names.is_empty() {
        return out(
            IprevResult::Fail,
            vec![],
            "no valid host name in PTR answer",
        );
    }
    let results = join_all(names.iter().map(|n| forward(resolver, n, ip))).await;
    let mut temp = false;
    let mut matched = Vec::new();
    for (name, r) in names.into_iter().zip(results) {
        match r {
            Forward::Match => matched.push(name),
            Forward::Temp => temp = true,
            Forward::NoMatch => {}
        }
    }
    if !matched.is_empty() {
        out(IprevResult::Pass, matched, "forward-confirmed")
    } else if temp {
        out(
            IprevResult::TempError,
            vec![],
            "forward lookup failed temporarily",
        )
    } else {
        out(
            IprevResult::Fail,
            vec![],
            "no PTR name resolves to the client IP",
        )
    }
}

/// Renders the result as an RFC 8601 resinfo: `iprev=pass
/// policy.iprev=192.0.2.1`; a non-pass result carries its reason as a
/// comment.
pub fn resinfo(output: &IprevOutput) -> ResInfo {
    let mut r = ResInfo::new("iprev", output.result.as_str());
    if output.result != IprevResult::Pass {
        r = r.comment(output.reason.clone());
    }
    r.property("policy", "iprev", output.ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        assert!(is_host_name("mail.example.com"));
        assert!(is_host_name("mail.example.com."));
        assert!(!is_host_name("-bad.example"));
        assert!(!is_host_name("a b.example"));
        assert!(!is_host_name("x\"y.example"));
        assert!(!is_host_name(""));
    }
}
