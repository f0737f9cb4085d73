//! `seam demo`: the sandbox and the runtime on a temporary SQLite store, running
//! `examples/case_incident.seam`, and the story of one customer incident told end to end as a
//! timeline a newcomer can read.
//!
//! Everything is real: the emulators answer over HTTP on loopback, the runtime verifies their
//! signed webhooks, commits each event to SQLite before acknowledging it and writes back
//! through the platforms' APIs. Each step waits (bounded) for its effect and the demo fails
//! loudly, with exit code 1, if one does not happen.

use clap::Args;
use seam_compiler::plan::{Backoff, RetryPolicy};
use seam_runtime::engine::worker::WorkerConfig;
use seam_runtime::metrics::OutcomeLabel;
use seam_runtime::store::{now_ms, AuditEntry};
use seam_runtime::{Running, RuntimeConfig};
use seam_sandbox::{FaultConfig, RunningSandbox, SandboxConfig, SystemKind};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Run the whole seam on this machine and watch one incident cross it.
///
/// Starts the sandbox (Salesforce, ServiceNow and Slack emulators) and the runtime on a
/// temporary SQLite store, then: a customer Case opens an incident; the engineer's assignment
/// and state flow back; a priority change flows across; an echo is suppressed; the Case becomes
/// Critical and the sev-1 workflow creates a Task and a Slack bridge channel; a forced failure
/// dead-letters, is replayed and lands; and the audit trail explains a field.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  seam demo\n  seam demo --keep-state demo.db   # keep the SQLite store to explore with `seam why` and `seam dlq`"
)]
pub struct DemoArgs {
    /// The spec to run (its link must be the example's Case <-> incident).
    #[arg(
        long,
        default_value = "examples/case_incident.seam",
        value_name = "FILE"
    )]
    pub spec: PathBuf,
    /// Keep the runtime's SQLite store at this path instead of a temporary file.
    #[arg(long, value_name = "FILE")]
    pub keep_state: Option<PathBuf>,
    /// How long each step may take before the demo gives up, in seconds.
    #[arg(long, default_value_t = 20)]
    pub step_timeout: u64,
}

pub fn run(args: &DemoArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(story(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nerror: {e}");
            ExitCode::from(1)
        }
    }
}

/// The timeline printer: elapsed time, who acted, what happened.
struct Timeline {
    start: Instant,
}

impl Timeline {
    fn say(&self, who: &str, what: &str) {
        let t = self.start.elapsed().as_secs_f64();
        println!("[{t:>6.2}s] {who:<10} {what}");
    }

    fn chapter(&self, title: &str) {
        println!("\n── {title}");
    }
}

/// Everything the story drives.
struct Stage {
    sb: RunningSandbox,
    rt: Running,
    http: reqwest::Client,
    timeout: Duration,
    tl: Timeline,
}

async fn story(args: &DemoArgs) -> Result<(), String> {
    let text = std::fs::read_to_string(&args.spec)
        .map_err(|e| format!("cannot read `{}`: {e}", args.spec.display()))?;
    // One check gives both the Plan and the catalogue the sandbox serves.
    let (checked, plan) = seam_compiler::compile(&text);
    let (Some(plan), Some(model)) = (plan, checked.model) else {
        return Err(format!(
            "`{}` does not compile; run `seam check {}` to see why",
            args.spec.display(),
            args.spec.display()
        ));
    };
    let catalog = model.catalog;

    let tl = Timeline {
        start: Instant::now(),
    };
    println!(
        "seam demo: {} (plan {})",
        args.spec.display(),
        short(&plan.spec_hash)
    );
    let mut config = SandboxConfig::ephemeral();
    config.catalog = catalog;
    let sb = seam_sandbox::start(config)
        .await
        .map_err(|e| format!("the sandbox did not start: {e}"))?;

    let (state_path, _temp) = match &args.keep_state {
        Some(p) => (p.clone(), None),
        None => {
            let dir =
                std::env::temp_dir().join(format!("seam-demo-{}-{}", std::process::id(), now_ms()));
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
            (dir.join("seam.db"), Some(TempDir(dir)))
        }
    };
    let env = sb.example_env();
    let rt_config = RuntimeConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        state: format!("sqlite://{}", state_path.display()),
        // The sandbox records every ServiceNow change as `admin`, the engineer's too, so echoes
        // there are recognised by the diff against the last values written.
        snow_echo_user: Some("seam.integration".into()),
        // Short backoff so the forced failure dead-letters in seconds, not minutes.
        retry: Some(RetryPolicy {
            attempts: 3,
            backoff: Some(Backoff {
                min_ms: 100,
                max_ms: 400,
            }),
        }),
        workers: WorkerConfig {
            concurrency: 4,
            poll: Duration::from_millis(20),
        },
        slack_url: Some(sb.slack_url()),
        ..RuntimeConfig::default()
    };
    let rt = seam_runtime::start(plan, rt_config, &|k| env.get(k).cloned())
        .await
        .map_err(|e| format!("the runtime did not start: {e}"))?;
    sb.set_webhook_url(
        SystemKind::Salesforce,
        Some(format!("{}/hooks/sf", rt.url())),
    );
    sb.set_webhook_url(
        SystemKind::ServiceNow,
        Some(format!("{}/hooks/snow", rt.url())),
    );
    tl.say(
        "sandbox",
        &format!(
            "Salesforce {}  ServiceNow {}  Slack {}",
            sb.salesforce_url(),
            sb.servicenow_url(),
            sb.slack_url()
        ),
    );
    tl.say(
        "runtime",
        &format!("{}  store {}", rt.url(), state_path.display()),
    );

    let stage = Stage {
        sb,
        rt,
        http: reqwest::Client::new(),
        timeout: Duration::from_secs(args.step_timeout),
        tl,
    };
    let outcome = stage.play().await;
    let Stage { sb, rt, .. } = stage;
    rt.shutdown().await;
    sb.shutdown().await;
    outcome?;
    println!("\nThe story is over: every write above is in the audit trail.");
    if let Some(p) = &args.keep_state {
        println!("Explore it: seam why --state sqlite://{} RECORD FIELD, seam dlq list --state sqlite://{}", p.display(), p.display());
    }
    Ok(())
}

impl Stage {
    async fn play(&self) -> Result<(), String> {
        let tl = &self.tl;

        tl.chapter(
            "1. A customer raises a Case; it is an infrastructure fault, so an incident opens",
        );
        let account = self
            .sb
            .sf_create(
                "Account",
                json!({"Name": "Acme Corp", "Customer_Key__c": "ACME-001", "Tier__c": "Strategic"}),
                None,
            )
            .map_err(|e| format!("creating the Account failed: {e}"))?;
        self.sb
            .snow_create(
                "core_company",
                json!({"name": "Acme Corp", "u_customer_key": "ACME-001"}),
            )
            .map_err(|e| format!("creating the company failed: {e}"))?;
        tl.say(
            "both",
            "the customer Acme Corp exists on both sides with key ACME-001",
        );
        let case = self
            .sb
            .sf_create(
                "Case",
                json!({
                    "Subject": "Checkout API returns 502",
                    "Description": "Customers cannot pay since 09:12 UTC",
                    "Type": "Infrastructure",
                    "Priority": "High",
                    "AccountId": account,
                }),
                None,
            )
            .map_err(|e| format!("creating the Case failed: {e}"))?;
        tl.say(
            "salesforce",
            &format!("Case {case} created by an agent: Type=Infrastructure, Priority=High"),
        );
        let incident = self
            .wait("the incident to open", || {
                self.sb
                    .snow_records("incident")
                    .into_iter()
                    .find(|i| text(i, "correlation_id").as_deref() == Some(case.as_str()))
            })
            .await?;
        let sys_id = text(&incident, "sys_id").unwrap_or_default();
        tl.say(
            "servicenow",
            &format!(
                "incident {} opened by seam: short_description={:?}, urgency={} (High), company set via identity `customer`",
                text(&incident, "number").unwrap_or_default(),
                text(&incident, "short_description").unwrap_or_default(),
                text(&incident, "urgency").unwrap_or_default()
            ),
        );
        let number = text(&incident, "number").unwrap_or_default();
        self.wait_case(&case, "Incident_Number__c", &number).await?;
        tl.say(
            "salesforce",
            &format!("Case.Incident_Number__c = {number} (the agent sees the incident)"),
        );

        tl.chapter("2. The engineer picks it up in ServiceNow; the Case follows");
        let engineer = self
            .sb
            .snow_create(
                "sys_user",
                json!({"user_name": "beth.anglin", "first_name": "Beth", "last_name": "Anglin"}),
            )
            .map_err(|e| format!("creating the engineer failed: {e}"))?;
        self.snow_patch(&sys_id, json!({"assigned_to": engineer, "state": "2"}))
            .await?;
        tl.say(
            "servicenow",
            "Beth Anglin assigns herself; state -> 2 (In Progress)",
        );
        self.wait_case(&case, "Incident_State__c", "In Progress")
            .await?;
        // A reference feeding a text field carries the user's name, not the sys_id.
        let assignee = self
            .wait("the assignee's name on the Case", || {
                self.case_field(&case, "Incident_Assignee__c")
                    .filter(|v| v == "Beth Anglin")
            })
            .await?;
        tl.say(
            "salesforce",
            &format!("Case.Incident_State__c = In Progress, Incident_Assignee__c = {assignee}"),
        );

        tl.chapter("3. The customer's priority drops; it crosses to the incident's urgency");
        self.sf_patch(&case, json!({"Priority": "Medium"})).await?;
        tl.say("salesforce", "the agent sets Priority = Medium");
        self.wait("urgency 2 on the incident", || {
            self.sb
                .snow_record("incident", &sys_id)
                .filter(|i| text(i, "urgency").as_deref() == Some("2"))
        })
        .await?;
        tl.say(
            "servicenow",
            "incident.urgency = 2 (mapped: Medium => 2); ServiceNow recomputes priority",
        );

        tl.chapter("4. seam's own writes come back as change events: recognised as echoes, nothing written");
        let echoes = self
            .wait("an echo to be recognised", || {
                let n = self.outcomes("echo");
                (n > 0).then_some(n)
            })
            .await?;
        tl.say(
            "runtime",
            &format!("{echoes} event(s) were echoes of seam's writes (Salesforce changeOrigin client=seam, or no difference): no loop"),
        );

        tl.chapter(
            "5. Sev-1: the strategic customer's Case becomes Critical; workflow sev1_bridge runs",
        );
        self.sf_patch(&case, json!({"Priority": "Critical"}))
            .await?;
        tl.say(
            "salesforce",
            "the agent sets Priority = Critical (Acme Corp is a Strategic account)",
        );
        let case_number = self.case_field(&case, "CaseNumber").unwrap_or_default();
        let task = self
            .wait("the sev-1 Task", || {
                self.sb
                    .sf_records("Task")
                    .into_iter()
                    .find(|t| text(t, "WhatId").as_deref() == Some(case.as_str()))
            })
            .await?;
        tl.say(
            "salesforce",
            &format!(
                "Task {:?} created for the account owner ({})",
                text(&task, "Subject").unwrap_or_default(),
                text(&task, "OwnerId").unwrap_or_default()
            ),
        );
        let bridge = format!("sev1-{case_number}");
        let message = self
            .wait("the bridge channel's message", || {
                self.sb.slack_messages(&bridge).into_iter().next()
            })
            .await?;
        tl.say(
            "slack",
            &format!(
                "#{bridge} created; posted {:?}",
                text(&message, "text").unwrap_or_default()
            ),
        );
        self.wait("urgency 1 on the incident", || {
            self.sb
                .snow_record("incident", &sys_id)
                .filter(|i| text(i, "urgency").as_deref() == Some("1"))
        })
        .await?;
        tl.say(
            "servicenow",
            &format!("incident {number} was open already: the workflow's `open` linked it, no second incident; urgency = 1 (Critical => 1)"),
        );

        tl.chapter("6. ServiceNow fails; the write retries, dead-letters, and lands on replay");
        let failing = FaultConfig {
            error_rate: 1.0,
            ..FaultConfig::default()
        };
        self.sb.set_faults(SystemKind::ServiceNow, failing);
        tl.say("sandbox", "ServiceNow now answers every call with HTTP 500");
        let description = "Root cause: expired TLS certificate on the payment gateway";
        self.sf_patch(&case, json!({"Description": description}))
            .await?;
        tl.say(
            "salesforce",
            "the agent adds the root cause to the Case description",
        );
        let letter = self
            .wait("a dead letter", || {
                self.rt
                    .store
                    .dead_letters(false)
                    .ok()
                    .and_then(|l| l.into_iter().next())
            })
            .await?;
        tl.say(
            "runtime",
            &format!(
                "after {} attempts: dead letter #{}: {}",
                letter.attempts, letter.id, letter.reason
            ),
        );
        self.sb
            .set_faults(SystemKind::ServiceNow, FaultConfig::default());
        tl.say("sandbox", "ServiceNow recovers");
        self.rt
            .store
            .replay_dead_letter(letter.id, now_ms())
            .map_err(|e| format!("replaying dead letter #{} failed: {e}", letter.id))?;
        tl.say("operator", &format!("seam dlq replay {}", letter.id));
        self.wait("the replayed write to land", || {
            self.sb
                .snow_record("incident", &sys_id)
                .filter(|i| text(i, "description").as_deref() == Some(description))
        })
        .await?;
        tl.say(
            "servicenow",
            "incident.description now carries the root cause",
        );

        tl.chapter(&format!(
            "7. Why did incident {number}'s description change?  (seam why {sys_id} description)"
        ));
        // An event's audit rows commit with its done mark, a moment after the write lands.
        let chain = self
            .wait("the replayed write's audit row", || {
                self.rt
                    .store
                    .audit_of(&sys_id, "description", 10)
                    .ok()
                    .filter(|chain| {
                        chain
                            .first()
                            .is_some_and(|a| a.new_value.as_deref() == Some(description))
                    })
            })
            .await?;
        for entry in &chain {
            print_audit(entry);
        }
        Ok(())
    }

    /// Polls `probe` until it yields, or gives up after the step timeout.
    async fn wait<T>(&self, what: &str, mut probe: impl FnMut() -> Option<T>) -> Result<T, String> {
        let end = Instant::now() + self.timeout;
        loop {
            if let Some(v) = probe() {
                return Ok(v);
            }
            if Instant::now() > end {
                return Err(format!(
                    "timed out after {}s waiting for {what}; the runtime's log and `seam dlq list` say why",
                    self.timeout.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn wait_case(&self, case: &str, field: &str, value: &str) -> Result<(), String> {
        self.wait(&format!("Case.{field} = {value}"), || {
            (self.case_field(case, field).as_deref() == Some(value)).then_some(())
        })
        .await
    }

    fn case_field(&self, case: &str, field: &str) -> Option<String> {
        self.sb
            .sf_record("Case", case)
            .and_then(|r| text(&r, field))
    }

    fn outcomes(&self, outcome: &str) -> u64 {
        ["sf", "snow"]
            .iter()
            .map(|system| {
                self.rt
                    .metrics
                    .events_out
                    .get_or_create(&OutcomeLabel {
                        system: (*system).into(),
                        outcome: outcome.into(),
                    })
                    .get()
            })
            .sum()
    }

    /// A person's change in Salesforce, through the REST API.
    async fn sf_patch(&self, case: &str, fields: Value) -> Result<(), String> {
        let url = format!(
            "{}/services/data/v62.0/sobjects/Case/{case}",
            self.sb.salesforce_url()
        );
        let r = self
            .http
            .patch(url)
            .bearer_auth(self.sb.salesforce_token())
            .json(&fields)
            .send()
            .await
            .map_err(|e| format!("updating Case {case} failed: {e}"))?;
        check_status(r.status(), &format!("updating Case {case}"))
    }

    /// An engineer's change in ServiceNow, through the Table API.
    async fn snow_patch(&self, sys_id: &str, fields: Value) -> Result<(), String> {
        let c = &self.sb.config.credentials;
        let url = format!(
            "{}/api/now/table/incident/{sys_id}",
            self.sb.servicenow_url()
        );
        let r = self
            .http
            .patch(url)
            .basic_auth(&c.snow_username, Some(&c.snow_password))
            .json(&fields)
            .send()
            .await
            .map_err(|e| format!("updating incident {sys_id} failed: {e}"))?;
        check_status(r.status(), &format!("updating incident {sys_id}"))
    }
}

fn check_status(status: reqwest::StatusCode, what: &str) -> Result<(), String> {
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("{what} answered HTTP {status}"))
    }
}

fn print_audit(a: &AuditEntry) {
    let at = chrono::DateTime::from_timestamp_millis(a.at)
        .map(|t| t.format("%H:%M:%S%.3f").to_string())
        .unwrap_or_default();
    println!(
        "  {at}  {:<8} {} -> {}\n      rule {}  (link {}, event {} from {}, plan {})",
        a.outcome,
        a.old_value
            .as_deref()
            .map_or("(none)".to_string(), |v| format!("{v:?}")),
        a.new_value
            .as_deref()
            .map_or("(none)".to_string(), |v| format!("{v:?}")),
        a.rule,
        a.link,
        a.source_event,
        a.source_system,
        short(&a.plan_hash)
    );
}

fn text(record: &Value, field: &str) -> Option<String> {
    match record.get(field)? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("value").and_then(Value::as_str).map(String::from),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn short(hash: &str) -> String {
    hash.chars().take(12).collect()
}

/// A temporary directory removed when the demo ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
