//! The [`Authenticator`]: runs every check for one SMTP transaction and
//! message, concurrently where the checks are independent, and renders one
//! `Authentication-Results` header.
//!
//! Each verifier stays usable alone ([`crate::iprev::check`], ...); the
//! Authenticator only composes them.

use std::net::IpAddr;
use std::time::Duration;

use crate::authres::AuthenticationResults;
use crate::dkim::{self, DkimConfig, DkimOutput, DkimResult};
use crate::dmarc::{self, DkimEvidence, DmarcConfig, DmarcOutput, SpfEvidence};
use crate::dns::Resolver;
use crate::dns::timeout::TimeoutResolver;
use crate::iprev::{self, IprevConfig, IprevOutput};
use crate::message::{self, Message};
use crate::spf::{self, Identity, SpfConfig, SpfOutput, SpfResult};

/// Which checks to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checks {
    /// iprev / FCrDNS of the client IP.
    pub iprev: bool,
    /// SPF for the HELO identity.
    pub spf_helo: bool,
    /// SPF for the MAIL FROM identity.
    pub spf: bool,
    /// DKIM signatures of the message.
    pub dkim: bool,
    /// DMARC for the message's author domain (needs SPF and DKIM).
    pub dmarc: bool,
}

impl Checks {
    /// Every check.
    pub const ALL: Checks = Checks {
        iprev: true,
        spf_helo: true,
        spf: true,
        dkim: true,
        dmarc: true,
    };
    /// No check.
    pub const NONE: Checks = Checks {
        iprev: false,
        spf_helo: false,
        spf: false,
        dkim: false,
        dmarc: false,
    };
}

impl Default for Checks {
    fn default() -> Self {
        Checks::ALL
    }
}

/// The SMTP facts of one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transaction {
    /// The client's IP address.
    pub client_ip: Option<IpAddr>,
    /// The HELO/EHLO name.
    pub helo: Option<String>,
    /// The MAIL FROM address; `Some("")` is the null reverse-path.
    pub mail_from: Option<String>,
}

/// Default per-lookup deadline of the [`Authenticator`].
pub const DEFAULT_DNS_TIMEOUT: Duration = Duration::from_secs(10);

/// Default overall deadline of one [`Authenticator::authenticate`] call.
pub const DEFAULT_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(30);

/// Configuration of every check.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The authserv-id written into Authentication-Results.
    pub authserv_id: String,
    /// Which checks run (a check also needs its inputs).
    pub checks: Checks,
    /// iprev limits.
    pub iprev: IprevConfig,
    /// SPF limits (shared by the HELO and MAIL FROM checks).
    pub spf: SpfConfig,
    /// DKIM policy (RFC 8301 algorithms and key sizes, `l=`, signature cap,
    /// clock).
    pub dkim: DkimConfig,
    /// DMARC mode (RFC 9989 by default, or RFC 7489), sampler and limits.
    pub dmarc: DmarcConfig,
    /// Deadline of every DNS lookup made by any check (default
    /// [`DEFAULT_DNS_TIMEOUT`]); a lookup past it counts as a timeout, so a
    /// server that never answers gives `temperror`, never a stall. SPF
    /// also has its own overall budget ([`SpfConfig::timeout`]).
    pub dns_timeout: Duration,
    /// Overall deadline of one [`Authenticator::authenticate`] call
    /// (default [`DEFAULT_TRANSACTION_TIMEOUT`], 30 s): every lookup of
    /// every check ends by then, and no lookup is sent after it, so the
    /// checks still waiting give `temperror` and the call returns. Without
    /// it the worst case is the sum of the per-check bounds (SPF's budget,
    /// then DMARC's up to [`DmarcConfig::max_dns_queries`] sequential
    /// lookups of [`AuthConfig::dns_timeout`] each). CPU work (hashing a
    /// large body) is linear in the message and is not cut short.
    pub transaction_timeout: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            authserv_id: "localhost".into(),
            checks: Checks::ALL,
            iprev: IprevConfig::default(),
            spf: SpfConfig::default(),
            dkim: DkimConfig::default(),
            dmarc: DmarcConfig::default(),
            dns_timeout: DEFAULT_DNS_TIMEOUT,
            transaction_timeout: DEFAULT_TRANSACTION_TIMEOUT,
        }
    }
}

/// Everything the checks found. A field is `None` when its check did not
/// run (not selected, or its inputs were not given).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The iprev result.
    pub iprev: Option<IprevOutput>,
    /// SPF for the HELO identity.
    pub spf_helo: Option<SpfOutput>,
    /// SPF for the MAIL FROM identity (for a null reverse-path, the
    /// `postmaster@<helo>` identity of RFC 7208 §2.4).
    pub spf: Option<SpfOutput>,
    /// One entry per DKIM-Signature field, top down (empty when the message
    /// has none).
    pub dkim: Option<Vec<DkimOutput>>,
    /// The DMARC result for the message's author domain.
    pub dmarc: Option<DmarcOutput>,
}

impl Report {
    /// The RFC 8601 header for this report.
    pub fn authentication_results(&self, authserv_id: &str) -> AuthenticationResults {
        let mut ar = AuthenticationResults::new(authserv_id);
        if let Some(o) = &self.iprev {
            ar.push(iprev::resinfo(o));
        }
        if let Some(o) = &self.spf {
            ar.push(spf::resinfo(o, Identity::MailFrom));
        }
        if let Some(o) = &self.spf_helo {
            ar.push(spf::resinfo(o, Identity::Helo));
        }
        match &self.dkim {
            Some(sigs) if sigs.is_empty() => {
                ar.push(crate::authres::ResInfo::new("dkim", "none"));
            }
            Some(sigs) => {
                for o in sigs {
                    ar.push(dkim::resinfo(o));
                }
            }
            None => {}
        }
        if let Some(o) = &self.dmarc {
            ar.push(dmarc::resinfo(o));
        }
        ar
    }
}

/// Runs the configured checks through one resolver.
#[derive(Debug, Clone)]
pub struct Authenticator<R> {
    resolver: R,
    config: AuthConfig,
}

impl<R: Resolver> Authenticator<R> {
    /// An authenticator querying `resolver`.
    pub fn new(resolver: R, config: AuthConfig) -> Self {
        Authenticator { resolver, config }
    }

    /// The configuration.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// The resolver.
    pub fn resolver(&self) -> &R {
        &self.resolver
    }

    /// Runs every selected check whose inputs are present.
    ///
    /// Needs a Tokio runtime with the time driver enabled (for the DNS
    /// deadlines). Ends by [`AuthConfig::transaction_timeout`] after it is
    /// first polled, whatever the DNS does.
    pub async fn authenticate(&self, tx: &Transaction, message: Option<&[u8]>) -> Report {
        let c = &self.config;
        let deadline = tokio::time::Instant::now() + c.transaction_timeout;
        let resolver = TimeoutResolver::with_deadline(&self.resolver, c.dns_timeout, deadline);
        let resolver = &resolver;
        let iprev = async {
            match tx.client_ip {
                Some(ip) if c.checks.iprev => Some(iprev::check(resolver, ip, &c.iprev).await),
                _ => None,
            }
        };
        let helo = tx.helo.as_deref();
        let spf_helo = async {
            match (tx.client_ip, helo) {
                (Some(ip), Some(h)) if c.checks.spf_helo => {
                    Some(spf::check_helo(resolver, ip, h, &c.spf).await)
                }
                _ => None,
            }
        };
        let spf_mail = async {
            match (tx.client_ip, tx.mail_from.as_deref()) {
                // A null reverse-path needs the HELO name (RFC 7208 §2.4).
                (Some(ip), Some(mf)) if c.checks.spf && (!mf.is_empty() || helo.is_some()) => {
                    Some(spf::check_mail_from(resolver, ip, mf, helo.unwrap_or(""), &c.spf).await)
                }
                _ => None,
            }
        };
        // The message is split into header fields once, for DKIM and DMARC.
        let parsed = message.map(Message::parse);
        let dkim = async {
            match &parsed {
                Some(m) if c.checks.dkim || c.checks.dmarc => {
                    Some(dkim::verify_message(resolver, m, &c.dkim).await)
                }
                _ => None,
            }
        };
        let (iprev, spf_helo, spf, dkim) = tokio::join!(iprev, spf_helo, spf_mail, dkim);
        let dmarc = match &parsed {
            Some(m) if c.checks.dmarc => Some(
                self.dmarc(
                    resolver,
                    m,
                    spf.as_ref(),
                    dkim.as_deref().unwrap_or_default(),
                )
                .await,
            ),
            _ => None,
        };
        Report {
            iprev,
            spf_helo,
            spf,
            dkim,
            dmarc,
        }
    }

    /// DMARC from the SPF (MAIL FROM identity; for a null reverse-path the
    /// `postmaster@<helo>` identity, RFC 7208 §2.4) and DKIM outputs. The
    /// author domain is determined fail-closed ([`message::author_domain`]).
    async fn dmarc(
        &self,
        resolver: &impl Resolver,
        m: &Message<'_>,
        spf: Option<&SpfOutput>,
        dkim: &[DkimOutput],
    ) -> DmarcOutput {
        let c = &self.config.dmarc;
        let from = match message::author_domain(m) {
            Ok(d) => d,
            Err(e) => return DmarcOutput::author_error(&e, c.mode),
        };
        let spf = spf.map(|o| SpfEvidence {
            result_pass: o.result == SpfResult::Pass,
            domain: o.domain(),
        });
        let dkim: Vec<DkimEvidence<'_>> = dkim
            .iter()
            .map(|o| DkimEvidence {
                pass: o.result == DkimResult::Pass,
                domain: &o.domain_ascii,
                testing: o.testing,
                unsigned_content: o.unsigned_octets > 0,
            })
            .collect();
        dmarc::evaluate(resolver, &from, spf, &dkim, c).await
    }
}
