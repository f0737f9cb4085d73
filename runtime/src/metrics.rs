//! Prometheus metrics (`/metrics`, text format). Counters are updated where things happen;
//! the backlog gauges (inbox depth, oldest pending age, dead letters) are read from the store
//! at scrape time, so they are right even for work another process (`seam dlq replay`) did.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use crate::store::Backlog;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SystemLabel {
    pub system: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectLabel {
    pub system: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub system: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WorkflowLabel {
    pub workflow: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AlertLabel {
    pub outcome: String,
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~16 s
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

pub struct Metrics {
    registry: Registry,
    /// Events accepted per system (stored, not duplicates).
    pub events_in: Family<SystemLabel, Counter>,
    /// Repeats answered 2xx and dropped.
    pub duplicates: Family<SystemLabel, Counter>,
    /// Requests rejected before the store: reason `malformed`, `signature`, `too_large`,
    /// `unknown_system`, `store`, `organization` (an Outbound Message from another org, or for
    /// a system with no org id configured).
    pub rejected: Family<RejectLabel, Counter>,
    /// Events the engine finished, per outcome (`synced`, `echo`, `nothing`, `dead_letter`).
    pub events_out: Family<OutcomeLabel, Counter>,
    /// Latency of one write to a platform, seconds.
    pub write_latency: Family<SystemLabel, Histogram, fn() -> Histogram>,
    pub retries: Family<SystemLabel, Counter>,
    pub refused_writes: Family<SystemLabel, Counter>,
    /// A platform's API allowance was spent (Salesforce `REQUEST_LIMIT_EXCEEDED`): the backlog
    /// alarm; the engine backs off to the policy's longest wait instead of hammering.
    pub limit_exceeded: Family<SystemLabel, Counter>,
    pub dead_letters_total: Counter,
    /// Finished events deleted from the inbox by retention (`--retain-events`).
    pub events_pruned: Counter,
    /// Workflow runs per workflow and outcome (`started`, `done`).
    pub workflow_runs: Family<WorkflowLabel, Counter>,
    /// Workflow steps per workflow and outcome (`done`, `failed`).
    pub workflow_steps: Family<WorkflowLabel, Counter>,
    /// Policy alerts per outcome (`sent`, `failed`).
    pub alerts: Family<AlertLabel, Counter>,
    inbox_depth: Gauge,
    oldest_pending_seconds: Gauge<f64, AtomicU64>,
    dead_letters: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("seam");
        let m = Metrics {
            events_in: Family::default(),
            duplicates: Family::default(),
            rejected: Family::default(),
            events_out: Family::default(),
            write_latency: Family::new_with_constructor(latency_histogram),
            retries: Family::default(),
            refused_writes: Family::default(),
            limit_exceeded: Family::default(),
            dead_letters_total: Counter::default(),
            events_pruned: Counter::default(),
            workflow_runs: Family::default(),
            workflow_steps: Family::default(),
            alerts: Family::default(),
            inbox_depth: Gauge::default(),
            oldest_pending_seconds: Gauge::default(),
            dead_letters: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "events_in",
            "Events accepted and stored",
            m.events_in.clone(),
        );
        registry.register(
            "events_duplicate",
            "Repeated events answered 2xx and dropped",
            m.duplicates.clone(),
        );
        registry.register(
            "events_rejected",
            "Webhook requests rejected before the store",
            m.rejected.clone(),
        );
        registry.register(
            "events_out",
            "Events the engine finished, by outcome",
            m.events_out.clone(),
        );
        registry.register(
            "write_latency_seconds",
            "Latency of one write to a platform",
            m.write_latency.clone(),
        );
        registry.register(
            "retries",
            "Event attempts scheduled again after a failure",
            m.retries.clone(),
        );
        registry.register(
            "refused_writes",
            "Writes the plan does not allow, refused and audited",
            m.refused_writes.clone(),
        );
        registry.register(
            "api_limit_exceeded",
            "Failures because a platform's API allowance is spent (backlog alarm)",
            m.limit_exceeded.clone(),
        );
        registry.register(
            "dead_lettered",
            "Events moved to the dead letters",
            m.dead_letters_total.clone(),
        );
        registry.register(
            "events_pruned",
            "Finished events deleted from the inbox after the retention period",
            m.events_pruned.clone(),
        );
        registry.register(
            "workflow_runs",
            "Workflow runs started and finished, per workflow",
            m.workflow_runs.clone(),
        );
        registry.register(
            "workflow_steps",
            "Workflow steps finished or failed, per workflow",
            m.workflow_steps.clone(),
        );
        registry.register("alerts", "Policy alerts sent or failed", m.alerts.clone());
        registry.register(
            "inbox_depth",
            "Pending and in-flight events",
            m.inbox_depth.clone(),
        );
        registry.register(
            "oldest_pending_age_seconds",
            "Age of the oldest pending event",
            m.oldest_pending_seconds.clone(),
        );
        registry.register(
            "dead_letters",
            "Dead letters not replayed",
            m.dead_letters.clone(),
        );
        Metrics { registry, ..m }
    }

    pub fn system(system: &str) -> SystemLabel {
        SystemLabel {
            system: system.into(),
        }
    }

    pub fn reject(&self, system: &str, reason: &str) {
        self.rejected
            .get_or_create(&RejectLabel {
                system: system.into(),
                reason: reason.into(),
            })
            .inc();
    }

    pub fn workflow_run(&self, workflow: &str, outcome: &str) {
        self.workflow_runs
            .get_or_create(&WorkflowLabel {
                workflow: workflow.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    pub fn workflow_step(&self, workflow: &str, outcome: &str) {
        self.workflow_steps
            .get_or_create(&WorkflowLabel {
                workflow: workflow.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    pub fn alert(&self, outcome: &str) {
        self.alerts
            .get_or_create(&AlertLabel {
                outcome: outcome.into(),
            })
            .inc();
    }

    pub fn out(&self, system: &str, outcome: &str) {
        self.events_out
            .get_or_create(&OutcomeLabel {
                system: system.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    /// The text exposition, with the backlog gauges set from `backlog`.
    pub fn render(&self, backlog: Backlog) -> String {
        self.inbox_depth.set(backlog.depth as i64);
        self.oldest_pending_seconds
            .set(backlog.oldest_pending_ms as f64 / 1000.0);
        self.dead_letters.set(backlog.dead_letters as i64);
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.push_str("# error: cannot encode the metrics\n");
        }
        out
    }
}
