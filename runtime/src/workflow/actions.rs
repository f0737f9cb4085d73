//! Platform actions of workflow steps and alerts — Slack's `create_channel(name)`,
//! `post(channel, text)` and `invite(channel, users)` — made idempotent where Slack allows:
//!
//! - `create_channel`: Slack answers `name_taken` when the channel exists (made by an earlier,
//!   interrupted attempt, or by hand); the channel is then found by name (`conversations.list`)
//!   and joined, and its id is the step's result.
//! - `post`: Slack has no idempotency key. When an earlier attempt of the same step began (so
//!   it may have posted before the runtime recorded it), the channel's history since that
//!   attempt is searched for the same text first; found, its `ts` is the result.
//! - `invite`: `already_in_channel` is success.

use std::collections::HashMap;

use crate::connectors::slack::SlackClient;
use crate::engine::{Engine, SyncError};

/// What an action did: its result (the `let` value) and what it touched, for the audit.
pub struct Acted {
    /// The channel id (`create_channel`, `invite`) or the message ts (`post`).
    pub value: String,
    /// The channel the action touched.
    pub channel: String,
    /// `name`, `message` or `members`.
    pub field: &'static str,
    /// What was written (the channel's name, the message, the users).
    pub written: String,
}

fn arg<'a>(
    args: &'a HashMap<String, String>,
    system: &str,
    action: &str,
    name: &str,
) -> Result<&'a str, SyncError> {
    args.get(name).map(String::as_str).ok_or_else(|| {
        SyncError::permanent(format!(
            "{system}.{action}: the argument `{name}` is missing"
        ))
    })
}

fn client<'a>(engine: &'a Engine, system: &str) -> Result<&'a SlackClient, SyncError> {
    engine.slack.get(system).ok_or_else(|| {
        SyncError::permanent(format!(
            "system `{system}` has no Slack connector: declare it `system {system}: slack` with a bot token"
        ))
    })
}

/// Performs `system.action(args)`. `begun`: when an earlier attempt of the same step began
/// (Unix ms), if one did.
pub async fn perform(
    engine: &Engine,
    system: &str,
    action: &str,
    args: &HashMap<String, String>,
    begun: Option<i64>,
) -> Result<Acted, SyncError> {
    let slack = client(engine, system)?;
    let what = |op: &str| format!("{system}.{action}: {op}");
    match action {
        "create_channel" => {
            let name = arg(args, system, action, "name")?;
            let id = match slack.create_channel(name).await {
                Ok(id) => id,
                Err(e) if e.code.as_deref() == Some("name_taken") => {
                    let found = slack.find_channel(name).await.map_err(|e| {
                        SyncError::connector(&what("finding the existing channel"), e)
                    })?;
                    let Some(id) = found else {
                        return Err(SyncError::permanent(what(&format!(
                            "Slack says `{name}` is taken but the bot cannot see a channel of that name (private or archived?); rename or unarchive it"
                        ))));
                    };
                    if let Err(e) = slack.join(&id).await {
                        tracing::warn!(channel = %id, error = %e, "cannot join the existing channel; posting may fail");
                    }
                    tracing::info!(channel = %id, name, "channel exists already: reused");
                    id
                }
                Err(e) => {
                    return Err(SyncError::connector(
                        &what(&format!("creating `{name}`")),
                        e,
                    ))
                }
            };
            Ok(Acted {
                value: id.clone(),
                channel: id,
                field: "name",
                written: name.to_string(),
            })
        }
        "post" => {
            let channel = arg(args, system, action, "channel")?;
            let text = arg(args, system, action, "text")?;
            if let Some(begun) = begun {
                // A second of slack for clocks; Slack's ts are in seconds.
                match slack.find_message(channel, text, begun / 1000 - 1).await {
                    Ok(Some(ts)) => {
                        tracing::info!(channel, ts = %ts, "the message was posted by an interrupted attempt: not posted again");
                        return Ok(Acted {
                            value: ts,
                            channel: channel.to_string(),
                            field: "message",
                            written: text.to_string(),
                        });
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(channel, error = %e, "cannot read the channel's history to check for an earlier post; posting")
                    }
                }
            }
            let ts = slack
                .post_message(channel, text)
                .await
                .map_err(|e| SyncError::connector(&what(&format!("posting to `{channel}`")), e))?;
            Ok(Acted {
                value: ts,
                channel: channel.to_string(),
                field: "message",
                written: text.to_string(),
            })
        }
        "invite" => {
            let channel = arg(args, system, action, "channel")?;
            let users = arg(args, system, action, "users")?;
            slack
                .invite(channel, users)
                .await
                .map_err(|e| SyncError::connector(&what(&format!("inviting to `{channel}`")), e))?;
            Ok(Acted {
                value: channel.to_string(),
                channel: channel.to_string(),
                field: "members",
                written: users.to_string(),
            })
        }
        other => Err(SyncError::permanent(format!(
            "{system}.{other}: not an action this runtime knows (create_channel, post, invite)"
        ))),
    }
}
