//! The `seam` command line as a library: subcommands (`cmd`), diagnostic rendering and file
//! reading, so the CLI's own tests render exactly what users see.

pub mod cmd;
pub mod render;
pub mod source;
