//! The compiler's hash maps use FxHash: several times faster than the standard SipHash for the
//! short string keys of names and field references. Hash flooding is no concern for a compiler
//! whose input is the user's own spec.

pub type HashMap<K, V> = std::collections::HashMap<K, V, rustc_hash::FxBuildHasher>;
pub type HashSet<T> = std::collections::HashSet<T, rustc_hash::FxBuildHasher>;
