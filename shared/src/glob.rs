//! Globs as people write them in flags and promote.toml: `*` for any run of characters, `?` for
//! one. Used for cfg-diff's `--ignore` and for alarm names (`orders-{env}-*`).

/// A glob with `*` (any run of characters) and `?` (one character).
#[must_use]
pub fn matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The part of a glob before its first wildcard: what a service's name-prefix filter can be
/// asked for, before the rest is matched here.
#[must_use]
pub fn literal_prefix(pattern: &str) -> &str {
    pattern
        .find(['*', '?'])
        .map_or(pattern, |at| &pattern[..at])
}

#[cfg(test)]
mod tests {
    use super::matches as glob;
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("FEATURE_*", "FEATURE_X"));
        assert!(glob("ssm:*/debug", "ssm:app/debug"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "abbc"));
        assert!(glob("*", ""));
        assert!(!glob("x*", "yx"));
    }

    #[test]
    fn the_literal_prefix_ends_at_the_first_wildcard() {
        assert_eq!(literal_prefix("orders-prod-*"), "orders-prod-");
        assert_eq!(literal_prefix("a?c*"), "a");
        assert_eq!(literal_prefix("exact"), "exact");
    }
}
