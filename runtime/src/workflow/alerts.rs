//! The policy's alerts: `alert STEP when CONDITION` over the metrics `dead_letter` (dead
//! letters not replayed) and `lag` (age of the oldest pending event), evaluated every
//! `interval` inside `seam run`.
//!
//! An alert fires on the rising edge: when its condition starts to hold. It re-arms when the
//! condition clears, so a backlog that stays high sends one message, not one per interval.
//! The edge is kept in the store (`cursors`, `alert:N:…`), so a restart does not repeat an
//! alert that already went out. A failed alert (Slack down, a bad channel) is logged and
//! counted (`seam_alerts_total{outcome="failed"}`), never crashes the runtime, and is tried
//! again at the next evaluation while the condition holds.

use seam_compiler::plan::PlanAlert;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

use super::{actions, template, Values};
use crate::engine::{Engine, SyncError};
use crate::store::now_ms;

/// What one evaluation did with one alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlertOutcome {
    /// The condition does not hold (re-armed if it fired before).
    Quiet,
    /// It holds and has already fired.
    Firing,
    /// It started to hold and the alert was sent.
    Sent,
    /// It started to hold and sending failed (tried again next time).
    Failed(String),
}

fn state_key(n: usize, alert: &PlanAlert) -> String {
    format!("alert:{n}:{}.{}", alert.system, alert.action)
}

/// Evaluates every alert once.
pub async fn evaluate(engine: &Engine) -> Vec<AlertOutcome> {
    let backlog = match engine.store.backlog(now_ms()) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the backlog for the policy's alerts");
            return Vec::new();
        }
    };
    let mut values = Values::default();
    values
        .metrics
        .insert("dead_letter", backlog.dead_letters.to_string());
    values
        .metrics
        .insert("lag", backlog.oldest_pending_ms.max(0).to_string());
    let mut out = Vec::new();
    for (n, alert) in engine.plan.policy.alerts.iter().enumerate() {
        out.push(evaluate_one(engine, n, alert, &values).await);
    }
    out
}

async fn evaluate_one(
    engine: &Engine,
    n: usize,
    alert: &PlanAlert,
    values: &Values,
) -> AlertOutcome {
    let key = state_key(n, alert);
    let holds = match template::eval(&alert.when, values) {
        Ok(h) => h,
        Err(why) => {
            tracing::error!(alert = %key, "the alert's condition cannot be evaluated: {why}");
            return AlertOutcome::Failed(why);
        }
    };
    let fired = match engine.store.cursor(&key) {
        Ok(v) => v.as_deref() == Some("firing"),
        Err(e) => {
            tracing::error!(alert = %key, error = %e, "cannot read the alert's state");
            return AlertOutcome::Failed(e.to_string());
        }
    };
    match (holds, fired) {
        (false, false) => AlertOutcome::Quiet,
        (false, true) => {
            if let Err(e) = engine.store.set_cursor(&key, "clear") {
                tracing::error!(alert = %key, error = %e, "cannot re-arm the alert");
            }
            tracing::info!(alert = %key, "alert condition cleared; re-armed");
            AlertOutcome::Quiet
        }
        (true, true) => AlertOutcome::Firing,
        (true, false) => match send(engine, alert, values).await {
            Ok(()) => {
                engine.metrics.alert("sent");
                if let Err(e) = engine.store.set_cursor(&key, "firing") {
                    tracing::error!(alert = %key, error = %e, "cannot record that the alert fired");
                }
                tracing::warn!(alert = %key, "policy alert sent");
                AlertOutcome::Sent
            }
            Err(e) => {
                engine.metrics.alert("failed");
                tracing::error!(alert = %key, error = %e, "policy alert could not be sent; trying again at the next evaluation");
                AlertOutcome::Failed(e.message)
            }
        },
    }
}

async fn send(engine: &Engine, alert: &PlanAlert, values: &Values) -> Result<(), SyncError> {
    let mut args = HashMap::new();
    for a in &alert.args {
        let v = template::value(&a.value, values)
            .map_err(SyncError::permanent)?
            .unwrap_or_default();
        args.insert(a.name.clone(), v);
    }
    actions::perform(engine, &alert.system, &alert.action, &args, None)
        .await
        .map(|_| ())
}

/// Evaluates the alerts every `interval` until `shutdown` turns true.
pub async fn run(engine: Arc<Engine>, interval: Duration, mut shutdown: watch::Receiver<bool>) {
    if engine.plan.policy.alerts.is_empty() {
        return;
    }
    let mut tick = tokio::time::interval(interval.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
        evaluate(&engine).await;
    }
}
