//! The `vxswitch` command.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use vxswitch::config::Config;

#[derive(Parser)]
#[command(
    name = "vxswitch",
    version,
    about = "A DPDK poll-mode VXLAN logical switch"
)]
struct Cli {
    /// Log lines as text for people, or as JSON objects (one per line) for collectors.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "VXSWITCH_LOG_FORMAT",
        default_value = "human"
    )]
    log_format: LogFormat,
    /// Which log lines to keep: a level (error, warn, info, debug, trace) or per-module
    /// directives as RUST_LOG takes them (`info,vxswitch::agent=debug`).
    #[arg(long, global = true, env = "VXSWITCH_LOG", default_value = "info")]
    log: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

/// Logs go to stderr (stdout keeps the commands' own output: views, the stop report).
fn init_logs(format: LogFormat, filter: &str) -> Result<(), String> {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .map_err(|e| format!("--log {filter:?}: {e}"))?;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => logs.json().with_current_span(false).init(),
    }
    Ok(())
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one hypervisor's data plane.
    Dataplane {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Run one controller node (agents on TCP 1234, REST API with OpenAPI).
    Controller {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Check a data-plane config file and print what it sets up.
    CheckConfig {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Operator views: controller tables (REST API) and host tables (control socket).
    Show {
        #[command(subcommand)]
        what: vxswitch::cli::Show,
        #[command(flatten)]
        target: vxswitch::cli::Target,
    },
    /// Ping from a data plane's VTEP (its own IP stack; DF is always set).
    Ping {
        dst: std::net::Ipv4Addr,
        /// ICMP data bytes (1572 fills a 1600-byte underlay MTU).
        #[arg(short, long, default_value_t = 56)]
        size: u16,
        #[arg(short, long, default_value_t = 3)]
        count: u16,
        /// Don't fragment (always on: the VTEP never fragments; accepted for familiarity).
        #[arg(short = 'd', long = "dont-fragment")]
        _df: bool,
        #[command(flatten)]
        target: vxswitch::cli::Target,
    },
    /// A frame's path through a running data plane, stage by stage, against its live tables:
    /// a dry run of a frame from fields or a pcap, or --live for the next frames of a port.
    Trace {
        #[command(flatten)]
        args: vxswitch::cli::TraceArgs,
        #[command(flatten)]
        target: vxswitch::cli::Target,
    },
    /// A port's frames as a running data plane receives and sends them: a pcap (-w) or a
    /// line each; bounded by --count and --duration.
    Capture {
        #[command(flatten)]
        args: vxswitch::cli::CaptureArgs,
        #[command(flatten)]
        target: vxswitch::cli::Target,
    },
    /// Manage logical switches on the controller.
    Ls {
        #[command(subcommand)]
        cmd: vxswitch::cli::Ls,
        #[command(flatten)]
        target: vxswitch::cli::Target,
    },
    /// Static MAC entries on this host's data plane.
    Mac {
        #[command(subcommand)]
        cmd: vxswitch::cli::Mac,
        #[command(flatten)]
        target: vxswitch::cli::Target,
    },
    /// A CA, node certificates and the API token for mutual TLS (a lab or a first deployment).
    Pki {
        #[command(subcommand)]
        cmd: Pki,
    },
    /// Build the two-hypervisor topology in network namespaces and ping VM A <-> VM B.
    Lab(vxswitch::lab::LabArgs),
}

#[derive(Subcommand)]
enum Pki {
    /// Make DIR/ca.pem, DIR/ca.key and DIR/api-token (never overwriting).
    Init {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Make DIR/NAME.pem and DIR/NAME.key, signed by DIR's CA, naming the addresses the node
    /// may use: a hypervisor's VTEP IPs, a controller's listener IPs.
    Issue {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long = "ip", required = true)]
        ips: Vec<std::net::IpAddr>,
    },
}

fn pki(cmd: &Pki) -> Result<(), String> {
    let made = match cmd {
        Pki::Init { dir } => vxswitch::auth::pki::init(dir),
        Pki::Issue { dir, name, ips } => vxswitch::auth::pki::issue(dir, name, ips),
    }
    .map_err(|e| e.to_string())?;
    for p in made {
        println!("{}", p.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = init_logs(cli.log_format, &cli.log) {
        eprintln!("vxswitch: {e}");
        return ExitCode::FAILURE;
    }
    let result: Result<(), String> = match cli.cmd {
        Cmd::Dataplane { config } => Config::load(&config)
            .map_err(|e| e.to_string())
            .and_then(|c| vxswitch::host::run(&c).map_err(|e| e.to_string())),
        Cmd::Controller { config } => vxswitch::controller::ControllerConfig::load(&config)
            .map_err(|e| e.to_string())
            .and_then(|c| vxswitch::controller::run(&c).map_err(|e| e.to_string())),
        Cmd::CheckConfig { config } => Config::load(&config)
            .map(|c| println!("{c:#?}"))
            .map_err(|e| e.to_string()),
        Cmd::Show { what, target } => vxswitch::cli::show(&what, &target).map(|o| print!("{o}")),
        Cmd::Ping {
            dst,
            size,
            count,
            target,
            ..
        } => vxswitch::cli::ping(&target, dst, size, count).map(|o| print!("{o}")),
        Cmd::Trace { args, target } => vxswitch::cli::trace(&args, &target).map(|o| print!("{o}")),
        Cmd::Capture { args, target } => {
            vxswitch::cli::capture(&args, &target).map(|o| eprint!("{o}"))
        }
        Cmd::Ls { cmd, target } => vxswitch::cli::ls(&cmd, &target).map(|o| print!("{o}")),
        Cmd::Mac { cmd, target } => vxswitch::cli::mac(&cmd, &target).map(|o| print!("{o}")),
        Cmd::Pki { cmd } => pki(&cmd),
        Cmd::Lab(args) => vxswitch::lab::run(&args).map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vxswitch: {e}");
            ExitCode::FAILURE
        }
    }
}
