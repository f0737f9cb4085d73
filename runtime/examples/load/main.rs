//! The load benchmark of issue 5: the runtime and a bare relay side by side in one run.
//!
//! ```text
//! runtime/bench/run.sh [EVENTS] [CASES] [WINDOW] [OPEN_SECS] [ROUNDS]
//! # or, after `cargo build --release --bin seam`:
//! cargo run --release -p seam-runtime --example load -- 20000 2000 256 10 3
//! ```
//!
//! The sandbox (Salesforce and ServiceNow emulators) runs in this process; the runtime runs as
//! its own process (`seam run` of the release binary, `SEAM_BIN` or `target/release/seam`, on a
//! temporary SQLite file), so its peak RSS is its own. The driver makes real Salesforce writes
//! (PATCH of a Case's Subject, through the sandbox's router in process: no client or socket of
//! the driver's in the sandbox's CPU); the sandbox's own signed change webhooks carry them to the system
//! under test, which reads the Case and writes its incident; a watcher of ServiceNow's commits
//! times each value's arrival ([`driver`]). Every event touches a different Case from the others
//! in flight (CASES > WINDOW), so nothing is coalesced: each costs one GET and one PATCH.
//!
//! Each of ROUNDS rounds (default 3) measures the runtime's and then the bare relay's
//! ([`relay`]) closed loop on the same Cases: a short warm-up, then WINDOW events in flight end
//! to end, EVENTS in all (the sustained throughput). Alternating the two within one run, and
//! reporting the median round of each, keeps a noisy machine's slow minute from landing on one
//! side only; every round's figures are printed too. Then each system's open loop runs at half
//! its median closed-loop throughput for OPEN_SECS (the latency under a steady load).

mod driver;
mod process;
mod relay;

use driver::{Driver, Phase};
use process::RuntimeProcess;
use seam_sandbox::{SandboxConfig, SystemKind};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

type R<T> = Result<T, String>;

struct Args {
    events: u64,
    cases: usize,
    window: usize,
    open_secs: f64,
    rounds: usize,
}

fn args() -> R<Args> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: f64| -> R<f64> {
        match a.get(i) {
            None => Ok(default),
            Some(s) => s
                .parse::<f64>()
                .map_err(|_| format!("argument {} `{s}` is not a number; usage: load [EVENTS] [CASES] [WINDOW] [OPEN_SECS] [ROUNDS]", i + 1)),
        }
    };
    let args = Args {
        events: num(0, 20_000.0)? as u64,
        cases: num(1, 2_000.0)? as usize,
        window: num(2, 256.0)? as usize,
        open_secs: num(3, 10.0)?,
        rounds: num(4, 3.0)? as usize,
    };
    if args.rounds == 0 {
        return Err("ROUNDS must be at least 1".into());
    }
    if args.cases <= args.window {
        return Err(format!(
            "CASES ({}) must exceed WINDOW ({}): events in flight must touch different Cases",
            args.cases, args.window
        ));
    }
    Ok(args)
}

/// One closed loop of one system.
struct Closed {
    phase: Phase,
    /// CPU milliseconds per event: the runtime's process (none for the relay, which lives in
    /// this one), and this process (sandbox, driver, and the relay).
    cpu_ms_runtime: Option<f64>,
    cpu_ms_here: f64,
}

/// A system's figures over the whole run: its closed loop of every round, its open loop.
struct Measured {
    rounds: Vec<Closed>,
    open: Phase,
    rss_mib: Option<f64>,
}

/// The round of median closed-loop throughput (the upper median of an even count).
fn median(rounds: &[Closed]) -> R<&Closed> {
    let mut by_rate: Vec<&Closed> = rounds.iter().collect();
    by_rate.sort_by(|a, b| a.phase.rate().total_cmp(&b.phase.rate()));
    by_rate
        .get(by_rate.len() / 2)
        .copied()
        .ok_or_else(|| "no closed loop was measured".to_string())
}

/// CPU seconds (user + system) a process has used so far, from `/proc/PID/stat`.
fn cpu_secs(pid: &str) -> R<f64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    // Fields after the command name (which may hold spaces) : state is the 3rd field, utime
    // the 14th and stime the 15th, in clock ticks (USER_HZ, 100 on Linux).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    match (tick(11), tick(12)) {
        (Some(u), Some(s)) => Ok((u + s) / 100.0),
        _ => Err(format!("{path}: no utime/stime")),
    }
}

/// The sandbox and the driver share one thread (a single-threaded Tokio runtime): their
/// tasks hand work to each other all the time, and on one thread that is a queue push, not a
/// wake-up of another thread (a futex call and a context switch). The relay has its own thread
/// ([`relay::start`]); the runtime under test is its own process.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match bench().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load: {e}");
            ExitCode::FAILURE
        }
    }
}

fn repo_file(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join(rel)
}

async fn bench() -> R<()> {
    let args = args()?;
    let spec_path = repo_file("examples/case_incident.seam");
    let seam = std::env::var_os("SEAM_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_file("target/release/seam"));
    let workers = std::env::var("SEAM_BENCH_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok());
    let spec = std::fs::read_to_string(&spec_path)
        .map_err(|e| format!("cannot read {}: {e}", spec_path.display()))?;
    let mut sc = SandboxConfig::ephemeral();
    sc.catalog = seam_compiler::catalog_for_spec(&spec)
        .map_err(|e| format!("the spec's catalogue: {e:?}"))?;
    sc.sf_api_limit = u64::MAX / 2;
    let sb = seam_sandbox::start(sc)
        .await
        .map_err(|e| format!("sandbox: {e}"))?;
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let env = sb.example_env();
    let http = reqwest::Client::new();
    let watch = sb
        .watch_raw(SystemKind::ServiceNow)
        .ok_or("the sandbox cannot watch ServiceNow")?;

    // The runtime, as its own process.
    let rt = RuntimeProcess::start(
        &seam,
        &spec_path,
        &dir.path().join("seam.db"),
        &env,
        workers,
    )?;
    sb.set_webhook_url(SystemKind::Salesforce, Some(format!("{}/hooks/sf", rt.url)));
    sb.set_webhook_url(SystemKind::ServiceNow, None);
    let (cases, open_rate) = open_incidents(&sb, &rt, &http, args.cases).await?;
    println!(
        "setup: {} incidents opened by the runtime from Case creations: {open_rate:.0}/s",
        cases.len()
    );
    let driver = Driver::new(
        sb.salesforce_router(),
        sb.salesforce_token(),
        cases.clone(),
        watch,
    )?;
    // The bare relay, on the same Cases: it knows each Case's twin in advance.
    let twins: HashMap<String, String> = sb
        .snow_records("incident")
        .into_iter()
        .filter_map(|i| {
            Some((
                i.get("correlation_id")?.as_str()?.to_string(),
                i.get("sys_id")?.as_str()?.to_string(),
            ))
        })
        .collect();
    let (relay_url, relay_server) = relay::start(relay::Relay {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .build()
            .map_err(|e| format!("relay client: {e}"))?,
        secret: sb.config.sf_webhook_secret.clone(),
        sf_url: sb.salesforce_url(),
        sf_token: sb.salesforce_token(),
        snow_url: sb.servicenow_url(),
        snow_user: env.get("SNOW_USER").cloned().unwrap_or_default(),
        snow_password: env.get("SNOW_PASSWORD").cloned().unwrap_or_default(),
        twins,
    })?;
    let runtime_hook = format!("{}/hooks/sf", rt.url);

    // Closed loops, alternating: runtime, relay, runtime, relay, ...
    let (mut rt_rounds, mut relay_rounds) = (Vec::new(), Vec::new());
    for round in 1..=args.rounds {
        sb.set_webhook_url(SystemKind::Salesforce, Some(runtime_hook.clone()));
        let name = format!("runtime, round {round}");
        rt_rounds.push(closed(&name, &driver, &args, Some(rt.pid())).await?);
        settle(&sb, &rt, &http).await?;
        check_synced(&name, &sb, &cases)?;
        sb.set_webhook_url(SystemKind::Salesforce, Some(relay_url.clone()));
        let name = format!("bare relay, round {round}");
        relay_rounds.push(closed(&name, &driver, &args, None).await?);
        settle(&sb, &rt, &http).await?;
        check_synced(&name, &sb, &cases)?;
    }
    // Open loops at half each one's median closed-loop throughput.
    sb.set_webhook_url(SystemKind::Salesforce, Some(runtime_hook));
    let rt_rate = median(&rt_rounds)?.phase.rate();
    let rt_open = open("runtime", &driver, &args, rt_rate).await?;
    settle(&sb, &rt, &http).await?;
    check_synced("runtime, open loop", &sb, &cases)?;
    let runtime = Measured {
        rounds: rt_rounds,
        open: rt_open,
        rss_mib: Some(rt.peak_rss_mib()?),
    };
    sb.set_webhook_url(SystemKind::Salesforce, Some(relay_url));
    let relay_rate = median(&relay_rounds)?.phase.rate();
    let relay_open = open("bare relay", &driver, &args, relay_rate).await?;
    settle(&sb, &rt, &http).await?;
    check_synced("bare relay, open loop", &sb, &cases)?;
    let relay = Measured {
        rounds: relay_rounds,
        open: relay_open,
        rss_mib: None,
    };
    drop(relay_server);
    rt.stop()?;
    let failed = sb.webhook_stats(SystemKind::Salesforce).failed;
    if failed > 0 {
        return Err(format!("the sandbox gave up on {failed} webhooks"));
    }
    report(
        &args,
        (&runtime, median(&runtime.rounds)?),
        (&relay, median(&relay.rounds)?),
        open_rate,
    );
    sb.shutdown().await;
    Ok(())
}

/// Creates the Cases (Type Infrastructure, so each opens an incident) and waits until the
/// runtime opened every incident and carried its number back.
async fn open_incidents(
    sb: &seam_sandbox::RunningSandbox,
    rt: &RuntimeProcess,
    http: &reqwest::Client,
    n: usize,
) -> R<(Vec<String>, f64)> {
    let t0 = Instant::now();
    let mut cases = Vec::with_capacity(n);
    for k in 0..n {
        let id = sb
            .sf_create(
                "Case",
                json!({"Subject": format!("case {k}"), "Type": "Infrastructure", "Priority": "Medium"}),
                None,
            )
            .map_err(|e| format!("creating Case {k}: {e}"))?;
        cases.push(id);
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let numbered = sb
            .sf_records("Case")
            .iter()
            .filter(|c| c.get("Incident_Number__c").is_some_and(|v| !v.is_null()))
            .count();
        if numbered >= n && sb.snow_records("incident").len() >= n {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "setup: after 300 s only {numbered} of {n} Cases have their incident's number"
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rate = n as f64 / t0.elapsed().as_secs_f64();
    settle(sb, rt, http).await?;
    Ok((cases, rate))
}

/// Waits until the sandbox delivered every webhook and the runtime's inbox is empty.
async fn settle(
    sb: &seam_sandbox::RunningSandbox,
    rt: &RuntimeProcess,
    http: &reqwest::Client,
) -> R<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let s = sb.webhook_stats(SystemKind::Salesforce);
        let sent = s.delivered + s.failed + s.dropped + s.unsent;
        if sent >= s.emitted + s.duplicated && rt.inbox_depth(http).await? == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("the runtime did not settle in 120 s: {s:?}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One closed loop (after a warm-up of a tenth of its events, at most 2,000): its throughput,
/// latency and CPU per event.
async fn closed(
    name: &str,
    driver: &std::sync::Arc<Driver>,
    args: &Args,
    runtime_pid: Option<u32>,
) -> R<Closed> {
    let warm = (args.events / 10).clamp(1, 2_000);
    driver.closed(warm, args.window).await?;
    let runtime_cpu = || runtime_pid.map(|p| cpu_secs(&p.to_string())).transpose();
    let (rt0, here0) = (runtime_cpu()?, cpu_secs("self")?);
    let phase = driver.closed(args.events, args.window).await?;
    let (rt1, here1) = (runtime_cpu()?, cpu_secs("self")?);
    let per_event = |a: f64, b: f64| (b - a) * 1000.0 / phase.events.max(1) as f64;
    let cpu_ms_runtime = rt0.zip(rt1).map(|(a, b)| per_event(a, b));
    let cpu_ms_here = per_event(here0, here1);
    println!(
        "{name}: closed loop {} events in {:.2} s: {:.0} events/s (p50 {:.1} ms, p99 {:.1} ms), CPU per event {} ms here",
        phase.events,
        phase.secs,
        phase.rate(),
        phase.pct(0.5),
        phase.pct(0.99),
        match cpu_ms_runtime {
            Some(ms) => format!("{ms:.2} ms in the runtime, {cpu_ms_here:.2}"),
            None => format!("{cpu_ms_here:.2}"),
        }
    );
    Ok(Closed {
        phase,
        cpu_ms_runtime,
        cpu_ms_here,
    })
}

/// An open loop at half the given closed-loop throughput, for OPEN_SECS.
async fn open(
    name: &str,
    driver: &std::sync::Arc<Driver>,
    args: &Args,
    closed_rate: f64,
) -> R<Phase> {
    let open = driver.open(closed_rate / 2.0, args.open_secs).await?;
    println!(
        "{name}: open loop {:.0} events/s for {:.0} s: p50 {:.1} ms, p99 {:.1} ms",
        closed_rate / 2.0,
        args.open_secs,
        open.pct(0.5),
        open.pct(0.99)
    );
    Ok(open)
}

/// Fails the run when some incident does not carry its Case's Subject: a system that drops
/// or misorders updates must not be reported as fast.
fn check_synced(name: &str, sb: &seam_sandbox::RunningSandbox, cases: &[String]) -> R<()> {
    let synced = count_synced(sb, cases);
    if synced != cases.len() {
        return Err(format!(
            "{name}: only {synced} of {} incidents match their Case's Subject",
            cases.len()
        ));
    }
    Ok(())
}

fn count_synced(sb: &seam_sandbox::RunningSandbox, cases: &[String]) -> usize {
    let subjects: HashMap<String, Value> = sb
        .snow_records("incident")
        .into_iter()
        .filter_map(|i| {
            Some((
                i.get("correlation_id")?.as_str()?.to_string(),
                i.get("short_description")?.clone(),
            ))
        })
        .collect();
    cases
        .iter()
        .filter(|c| {
            let subject = sb
                .sf_record("Case", c)
                .and_then(|r| r.get("Subject").cloned());
            subject.is_some() && subjects.get(c.as_str()) == subject.as_ref()
        })
        .count()
}

fn report(
    args: &Args,
    (rt, rt_m): (&Measured, &Closed),
    (relay, relay_m): (&Measured, &Closed),
    open_rate: f64,
) {
    let ok = |b: bool| if b { "yes" } else { "NO" };
    let ratio = rt_m.phase.rate() / relay_m.phase.rate().max(1e-9);
    let rss = rt.rss_mib.unwrap_or(f64::NAN);
    let each = |m: &Measured, f: &dyn Fn(&Closed) -> String| {
        m.rounds.iter().map(f).collect::<Vec<_>>().join(" / ")
    };
    println!();
    println!(
        "{} events closed loop ({} in flight), {} Cases, open loop {} s, {} rounds; {} cores",
        args.events,
        args.window,
        args.cases,
        args.open_secs,
        args.rounds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "rounds, closed loop events/s: runtime {}; bare relay {}; runtime / relay {}",
        each(rt, &|c| format!("{:.0}", c.phase.rate())),
        each(relay, &|c| format!("{:.0}", c.phase.rate())),
        rt.rounds
            .iter()
            .zip(&relay.rounds)
            .map(|(a, b)| format!("{:.0}%", 100.0 * a.phase.rate() / b.phase.rate().max(1e-9)))
            .collect::<Vec<_>>()
            .join(" / ")
    );
    println!(
        "rounds, runtime CPU per event (ms): {}",
        each(rt, &|c| format!(
            "{:.2}",
            c.cpu_ms_runtime.unwrap_or(f64::NAN)
        ))
    );
    println!("figures below: each system's median round (by throughput)");
    println!("| figure | runtime | bare relay | target | met |\n| --- | ---: | ---: | --- | --- |");
    println!(
        "| synced events/s, closed loop | {:.0} | {:.0} | >= 2,000 | {} |",
        rt_m.phase.rate(),
        relay_m.phase.rate(),
        ok(rt_m.phase.rate() >= 2_000.0)
    );
    println!(
        "| runtime / relay throughput | {:.0}% | 100% | >= 50% | {} |",
        ratio * 100.0,
        ok(ratio >= 0.5)
    );
    println!(
        "| end to end p50 / p99, closed loop (ms) | {:.1} / {:.1} | {:.1} / {:.1} | | |",
        rt_m.phase.pct(0.5),
        rt_m.phase.pct(0.99),
        relay_m.phase.pct(0.5),
        relay_m.phase.pct(0.99)
    );
    println!(
        "| open loop rate (half the closed loop's) | {:.0}/s | {:.0}/s | | |",
        rt.open.rate(),
        relay.open.rate()
    );
    println!(
        "| end to end p50 / p99, open loop (ms) | {:.1} / {:.1} | {:.1} / {:.1} | p99 <= 50 | {} |",
        rt.open.pct(0.5),
        rt.open.pct(0.99),
        relay.open.pct(0.5),
        relay.open.pct(0.99),
        ok(rt.open.pct(0.99) <= 50.0)
    );
    println!(
        "| peak RSS (VmHWM, MiB) | {rss:.1} | (in the sandbox's process) | <= 150 | {} |",
        ok(rss <= 150.0)
    );
    println!(
        "| CPU per event, closed loop: system under test (ms) | {:.2} | (in the sandbox's process) | | |",
        rt_m.cpu_ms_runtime.unwrap_or(f64::NAN)
    );
    println!(
        "| CPU per event, closed loop: sandbox + driver (+ relay) process (ms) | {:.2} | {:.2} | | |",
        rt_m.cpu_ms_here, relay_m.cpu_ms_here
    );
    println!("| incidents opened from Case creations | {open_rate:.0}/s | | | |");
}
