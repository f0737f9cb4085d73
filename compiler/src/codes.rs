//! The stable diagnostic codes of the `.seam` language.
//!
//! CI pipelines match on these names: a code is never renamed or reused. Each one links to its
//! section of the language reference in `spec/` (the anchor is checked by a test).

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Code {
    Syntax,
    NameUnknown,
    NameDuplicate,
    OwnershipConflict,
    OwnershipNotOwner,
    Cycle,
    IdentityUnstableKey,
    MapIncomplete,
    MapInvalidValue,
    TypeMismatch,
    SecretLiteral,
    Unused,
}

impl Code {
    /// Every code, in the order of the reference.
    pub const ALL: [Code; 12] = [
        Code::Syntax,
        Code::NameUnknown,
        Code::NameDuplicate,
        Code::OwnershipConflict,
        Code::OwnershipNotOwner,
        Code::Cycle,
        Code::IdentityUnstableKey,
        Code::MapIncomplete,
        Code::MapInvalidValue,
        Code::TypeMismatch,
        Code::SecretLiteral,
        Code::Unused,
    ];

    /// The stable name, e.g. `seam::ownership::conflict`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Syntax => "seam::syntax",
            Code::NameUnknown => "seam::name::unknown",
            Code::NameDuplicate => "seam::name::duplicate",
            Code::OwnershipConflict => "seam::ownership::conflict",
            Code::OwnershipNotOwner => "seam::ownership::not_owner",
            Code::Cycle => "seam::cycle",
            Code::IdentityUnstableKey => "seam::identity::unstable_key",
            Code::MapIncomplete => "seam::map::incomplete",
            Code::MapInvalidValue => "seam::map::invalid_value",
            Code::TypeMismatch => "seam::type::mismatch",
            Code::SecretLiteral => "seam::secret::literal",
            Code::Unused => "seam::unused",
        }
    }

    /// The anchor of this code's section in `spec/diagnostics.md`.
    pub fn doc_anchor(self) -> String {
        self.as_str().replace("::", "-")
    }

    pub fn from_name(name: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
