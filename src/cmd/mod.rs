//! One module per subcommand: flags (clap) and rendering, nothing else.

pub mod check;
pub mod compile;
pub mod demo;
pub mod diff;
pub mod dlq;
pub mod fmt;
pub mod graph;
pub mod links;
pub mod load;
pub mod reconcile;
pub mod run;
pub mod sandbox;
pub mod table;
pub mod why;

use clap::Args;
use seam_runtime::store::sqlite::{Durability, SqliteStore};
use seam_runtime::store::StoreResult;

/// `--state` of the commands that read a runtime's state (`dlq`, `links`, `why`): the file
/// must exist, since these commands never create one (`seam run` does).
#[derive(Args, Debug)]
pub struct ExistingState {
    /// The runtime's state (it must exist; `seam run` creates it).
    #[arg(
        long,
        env = "SEAM_STATE",
        default_value = "sqlite://seam.db",
        global = true
    )]
    pub state: String,
}

impl ExistingState {
    /// Opens the state, refusing a missing file with its path and `--state` named.
    pub fn open(&self) -> StoreResult<SqliteStore> {
        SqliteStore::open_existing_url(&self.state, Durability::Full)
    }
}
