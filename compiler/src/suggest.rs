//! "Did you mean" for unknown names: the nearest candidate by edit distance.
//!
//! Runs only for names that failed to resolve, over the candidates of one scope (the fields of
//! one object, the declared links, ...), so it never adds a pass over the whole spec.

/// The candidate closest to `name`, if it is close enough to be a plausible typo.
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let limit = (name.chars().count() / 3).max(1) + 1;
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        // A difference of case only is the best possible match.
        let distance = if candidate.to_lowercase() == lower {
            0
        } else {
            // Cheap filter first: lengths too far apart cannot be within the limit.
            let diff = candidate.len().abs_diff(name.len());
            if diff > limit {
                continue;
            }
            strsim::damerau_levenshtein(&lower, &candidate.to_lowercase())
        };
        if distance <= limit && best.is_none_or(|(d, c)| (distance, candidate) < (d, c)) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// `did you mean `x`?` or nothing.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    nearest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_and_case_slips() {
        let fields = ["Subject", "Status", "Priority", "Description"];
        assert_eq!(nearest("Subjct", fields), Some("Subject"));
        assert_eq!(nearest("priority", fields), Some("Priority"));
        assert_eq!(nearest("Owner", fields), None);
    }
}
