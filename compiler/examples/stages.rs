//! Times each stage of `compile` on a generated spec: parse, resolve, checks, Plan, JSON.
//!
//! `cargo run --release -p seam-compiler --example stages -- [MAPPINGS] [STAGE]`
//! (default 10,000 mappings, every stage). With a STAGE (`parse`, `check` or `compile`) it stops
//! after that stage, so `valgrind --tool=callgrind` or `/usr/bin/time -v` measure only it. The
//! spec is generated before the clock starts; its own cost is printed separately. STAGE `emit`
//! prints the generated spec instead, for timing the `seam` binary on it.

use seam_compiler::{check, plan::Plan, resolve, syntax, synthetic};
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn ms(d: Duration) -> String {
    format!("{:>8.1} ms", d.as_secs_f64() * 1e3)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = args
        .first()
        .and_then(|a| a.replace('_', "").parse::<usize>().ok())
        .unwrap_or(10_000);
    let stop = args.get(1).map(String::as_str).unwrap_or("compile");

    let t = Instant::now();
    let spec = synthetic::spec(n);
    if stop == "emit" {
        print!("{spec}");
        return ExitCode::SUCCESS;
    }
    println!(
        "spec      {} ({n} mappings, {:.1} MB)",
        ms(t.elapsed()),
        spec.len() as f64 / 1e6
    );

    let t = Instant::now();
    let file = match syntax::parse(&spec) {
        Ok(f) => f,
        Err(d) => {
            eprintln!("the generated spec does not parse: {}", d.message);
            return ExitCode::FAILURE;
        }
    };
    let parse = t.elapsed();
    println!("parse     {}", ms(parse));
    if stop == "parse" {
        return ExitCode::SUCCESS;
    }

    let t = Instant::now();
    let (model, mut diagnostics) = resolve::resolve(&file);
    let resolved = t.elapsed();
    println!("resolve   {}", ms(resolved));
    let t = Instant::now();
    diagnostics.extend(check::run(&model));
    let checks = t.elapsed();
    println!("checks    {}", ms(checks));
    println!(
        "check     {}  (parse + resolve + checks)",
        ms(parse + resolved + checks)
    );
    if !diagnostics.is_empty() {
        eprintln!("the generated spec has {} diagnostics", diagnostics.len());
        return ExitCode::FAILURE;
    }
    if stop == "check" {
        return ExitCode::SUCCESS;
    }
    // `seam compile` keeps the checked file (AST and model) alive while it plans: so do we.

    let t = Instant::now();
    let plan = Plan::from_model(&model);
    let planned = t.elapsed();
    println!("plan      {}", ms(planned));
    let t = Instant::now();
    let json = match serde_json::to_string_pretty(&plan) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("cannot serialise the plan: {e}");
            return ExitCode::FAILURE;
        }
    };
    let serialised = t.elapsed();
    println!(
        "json      {}  ({:.1} MB)",
        ms(serialised),
        json.len() as f64 / 1e6
    );
    println!(
        "compile   {}  (check + plan + json)",
        ms(parse + resolved + checks + planned + serialised)
    );
    ExitCode::SUCCESS
}
