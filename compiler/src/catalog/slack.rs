//! Slack's Web API methods, as workflow actions (`chat.create_channel(name = ...)`).

/// One parameter of an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlackParam {
    pub name: &'static str,
    pub required: bool,
}

/// A workflow action and the Web API method it calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlackAction {
    pub name: &'static str,
    pub method: &'static str,
    pub params: &'static [SlackParam],
    /// Whether the action returns a channel that `let` can bind.
    pub returns_channel: bool,
}

pub const SLACK_ACTIONS: &[SlackAction] = &[
    SlackAction {
        name: "create_channel",
        method: "conversations.create",
        params: &[
            SlackParam {
                name: "name",
                required: true,
            },
            SlackParam {
                name: "private",
                required: false,
            },
        ],
        returns_channel: true,
    },
    SlackAction {
        name: "post",
        method: "chat.postMessage",
        params: &[
            SlackParam {
                name: "channel",
                required: true,
            },
            SlackParam {
                name: "text",
                required: true,
            },
        ],
        returns_channel: false,
    },
    SlackAction {
        name: "invite",
        method: "conversations.invite",
        params: &[
            SlackParam {
                name: "channel",
                required: true,
            },
            SlackParam {
                name: "users",
                required: true,
            },
        ],
        returns_channel: false,
    },
];
