//! The `sender-auth` command-line interface.
//!
//! ```text
//! sender-auth check [--ip IP] [--helo NAME] [--mail-from ADDR]
//!                   [--zone FILE | --nameserver IP:PORT] [--now UNIX-SECONDS]
//!                   [--checks LIST] [--dmarc-mode rfc9989|rfc7489] [--authserv-id ID]
//!                   [--json] [MESSAGE|-]
//! ```
//!
//! Exit status: 0 when the checks ran (whatever their results), 2 on bad
//! input (unreadable file, invalid IP, malformed zone file, unknown option),
//! with one line on stderr naming the problem.
#![forbid(unsafe_code)]

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use serde_json::{Map, Value, json};

use sender_auth::authenticator::{AuthConfig, Authenticator, Checks, Report, Transaction};
use sender_auth::dns::DynResolver;
use sender_auth::dns::zone::ZoneResolver;

#[derive(Parser, Debug)]
#[command(
    name = "sender-auth",
    version,
    about = "Authenticate inbound mail: iprev, SPF, DKIM, DMARC, Authentication-Results"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the checks for one SMTP transaction and message.
    Check(CheckArgs),
}

#[derive(Args, Debug)]
struct CheckArgs {
    /// The SMTP client's IP address.
    #[arg(long, value_name = "IP")]
    ip: Option<String>,
    /// The HELO/EHLO name.
    #[arg(long, value_name = "NAME")]
    helo: Option<String>,
    /// The MAIL FROM address ("" is the null reverse-path).
    #[arg(long = "mail-from", value_name = "ADDR")]
    mail_from: Option<String>,
    /// Answer every DNS lookup from this RFC 1035 master file (no network).
    #[arg(long, value_name = "FILE", conflicts_with = "nameserver")]
    zone: Option<String>,
    /// Send DNS queries to this server (UDP, TCP on truncation).
    #[arg(long, value_name = "IP:PORT")]
    nameserver: Option<String>,
    /// Fix the clock (Unix seconds) for DKIM t=/x=.
    #[arg(long, value_name = "UNIX-SECONDS")]
    now: Option<String>,
    /// Comma-separated subset of iprev,spf-helo,spf,dkim,dmarc.
    #[arg(long, value_name = "LIST")]
    checks: Option<String>,
    /// DMARC mode: rfc9989 (DNS tree walk, default) or rfc7489 (PSL).
    #[arg(long = "dmarc-mode", value_name = "MODE")]
    dmarc_mode: Option<String>,
    /// The authserv-id written into Authentication-Results.
    #[arg(long = "authserv-id", value_name = "ID")]
    authserv_id: Option<String>,
    /// Print one JSON object instead of the header.
    #[arg(long)]
    json: bool,
    /// The message: a path, or - for standard input.
    #[arg(value_name = "MESSAGE|-")]
    message: Option<String>,
}

/// Bad input: printed as one line, exit status 2.
struct BadInput(String);

fn bad<T>(msg: impl Into<String>) -> Result<T, BadInput> {
    Err(BadInput(msg.into()))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                print!("{e}");
                return ExitCode::SUCCESS;
            }
            let text = e.to_string();
            let line = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ");
            eprintln!("sender-auth: {line}");
            return ExitCode::from(2);
        }
    };
    let Command::Check(args) = cli.command;
    match run(args) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(BadInput(msg)) => {
            eprintln!("sender-auth: {msg}");
            ExitCode::from(2)
        }
    }
}

fn parse_checks(list: &str) -> Result<Checks, BadInput> {
    let mut c = Checks::NONE;
    for item in list.split(',').map(str::trim) {
        match item {
            "iprev" => c.iprev = true,
            "spf-helo" => c.spf_helo = true,
            "spf" => c.spf = true,
            "dkim" => c.dkim = true,
            "dmarc" => {
                c.dmarc = true;
                c.spf = true;
                c.dkim = true;
            }
            other => {
                return bad(format!(
                    "--checks: unknown check {other:?} (expected iprev, spf-helo, spf, dkim, dmarc)"
                ));
            }
        }
    }
    Ok(c)
}

fn default_authserv_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

fn read_message(arg: &str) -> Result<Vec<u8>, BadInput> {
    let mut buf = Vec::new();
    if arg == "-" {
        if let Err(e) = std::io::stdin().read_to_end(&mut buf) {
            return bad(format!("cannot read message from standard input: {e}"));
        }
    } else if let Err(e) = std::fs::File::open(arg).and_then(|mut f| f.read_to_end(&mut buf)) {
        return bad(format!("cannot read message {arg}: {e}"));
    }
    Ok(buf)
}

fn build_resolver(args: &CheckArgs) -> Result<Arc<dyn DynResolver>, BadInput> {
    if let Some(path) = &args.zone {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => return bad(format!("cannot read zone file {path}: {e}")),
        };
        return match ZoneResolver::from_master_file(&text, None) {
            Ok(z) => Ok(Arc::new(z)),
            Err(e) => bad(format!("zone file {path}: {e}")),
        };
    }
    #[cfg(feature = "hickory")]
    {
        // Behind a cache that coalesces identical concurrent lookups: the
        // HELO and MAIL FROM SPF checks of one domain share their queries.
        use sender_auth::dns::cache::CachingResolver;
        use sender_auth::dns::hickory::{HickoryConfig, HickoryResolver};
        if let Some(ns) = &args.nameserver {
            let addr: SocketAddr = match ns.parse() {
                Ok(a) => a,
                Err(_) => return bad(format!("--nameserver: invalid IP:PORT {ns:?}")),
            };
            return match HickoryResolver::with_nameservers(&[addr], HickoryConfig::default()) {
                Ok(r) => Ok(Arc::new(CachingResolver::new(r))),
                Err(e) => bad(format!("--nameserver {ns}: {e}")),
            };
        }
        match HickoryResolver::from_system_conf() {
            Ok(r) => Ok(Arc::new(CachingResolver::new(r))),
            Err(e) => bad(format!("cannot use the system's DNS configuration: {e}")),
        }
    }
    #[cfg(not(feature = "hickory"))]
    {
        let _ = &args.nameserver;
        let _: Option<SocketAddr> = None;
        bad("built without the `hickory` feature: use --zone")
    }
}

fn run(args: CheckArgs) -> Result<String, BadInput> {
    let ip: Option<IpAddr> = match &args.ip {
        Some(s) => match s.parse() {
            Ok(ip) => Some(ip),
            Err(_) => return bad(format!("--ip: invalid IP address {s:?}")),
        },
        None => None,
    };
    let now: Option<u64> = match &args.now {
        Some(s) => match s.parse() {
            Ok(n) => Some(n),
            Err(_) => return bad(format!("--now: invalid Unix time {s:?}")),
        },
        None => None,
    };
    if let Some(m) = &args.dmarc_mode
        && m != "rfc9989"
        && m != "rfc7489"
    {
        return bad(format!(
            "--dmarc-mode: unknown mode {m:?} (expected rfc9989 or rfc7489)"
        ));
    }
    let explicit = args.checks.as_deref().map(parse_checks).transpose()?;
    let message = args.message.as_deref().map(read_message).transpose()?;

    // A check runs when selected (explicitly, or by default) and its inputs
    // were given; an explicitly selected check without its inputs is an error.
    let has = Checks {
        iprev: ip.is_some(),
        spf_helo: ip.is_some() && args.helo.is_some(),
        spf: ip.is_some()
            && args.mail_from.is_some()
            && (args.mail_from.as_deref() != Some("") || args.helo.is_some()),
        dkim: message.is_some(),
        dmarc: message.is_some(),
    };
    let checks = match explicit {
        Some(c) => {
            let needs = [
                (c.iprev && !has.iprev, "iprev needs --ip"),
                (
                    c.spf_helo && !has.spf_helo,
                    "spf-helo needs --ip and --helo",
                ),
                (
                    c.spf && !c.dmarc && !has.spf,
                    "spf needs --ip and --mail-from (and --helo for a null sender)",
                ),
                (c.dkim && !has.dkim, "dkim needs a MESSAGE"),
                (c.dmarc && !has.dmarc, "dmarc needs a MESSAGE"),
            ];
            if let Some((_, msg)) = needs.iter().find(|(missing, _)| *missing) {
                return bad(format!("--checks: {msg}"));
            }
            Checks {
                spf: c.spf && has.spf,
                ..c
            }
        }
        None => has,
    };

    let resolver = build_resolver(&args)?;
    let authserv_id = args.authserv_id.clone().unwrap_or_else(default_authserv_id);
    let mut config = AuthConfig {
        authserv_id: authserv_id.clone(),
        checks,
        ..AuthConfig::default()
    };
    config.dkim.now = now;
    if let Some(mode) = &args.dmarc_mode {
        config.dmarc.mode = match mode.as_str() {
            "rfc7489" => sender_auth::dmarc::DmarcMode::Rfc7489,
            _ => sender_auth::dmarc::DmarcMode::Rfc9989,
        };
    }
    let tx = Transaction {
        client_ip: ip,
        helo: args.helo.clone(),
        mail_from: args.mail_from.clone(),
    };
    let auth = Authenticator::new(resolver, config);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return bad(format!("cannot start the async runtime: {e}")),
    };
    let report = rt.block_on(auth.authenticate(&tx, message.as_deref()));
    let ar = report.authentication_results(&authserv_id);
    if args.json {
        Ok(to_json(&report, &ar.header()).to_string())
    } else {
        Ok(ar.header())
    }
}

fn to_json(report: &Report, header: &str) -> Value {
    let mut obj = Map::new();
    if let Some(o) = &report.iprev {
        obj.insert(
            "iprev".into(),
            json!({
                "result": o.result.as_str(),
                "names": o.names,
                "reason": o.reason,
            }),
        );
    }
    for (key, out) in [("spf_helo", &report.spf_helo), ("spf", &report.spf)] {
        if let Some(o) = out {
            obj.insert(
                key.into(),
                json!({
                    "result": o.result.as_str(),
                    "domain": o.domain(),
                    "mechanism": o.mechanism(),
                    "explanation": o.explanation(),
                    "reason": o.reason(),
                }),
            );
        }
    }
    if let Some(sigs) = &report.dkim {
        let list: Vec<Value> = sigs
            .iter()
            .map(|o| {
                json!({
                    "result": o.result.as_str(),
                    "domain": o.domain,
                    "selector": o.selector,
                    "algorithm": o.algorithm,
                    "reason": o.reason,
                })
            })
            .collect();
        obj.insert("dkim".into(), Value::Array(list));
    }
    if let Some(o) = &report.dmarc {
        obj.insert("dmarc".into(), o.to_json());
    }
    obj.insert("authentication_results".into(), Value::from(header));
    Value::Object(obj)
}
