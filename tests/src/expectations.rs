//! The checked-in list of expected spec failures.
//!
//! Format, one entry per line, `#` starts a comment line:
//!
//! ```text
//! file.wast:LINE reason
//! simd_*.wast:* reason        (a whole-file exclusion: matching files are not run)
//! ```
//!
//! Entries whose reason starts with `crashes` or `hangs` are skipped at runtime (not run at
//! all); every other entry is run and must still fail.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// A case key: file name and line (0 for file-level failures).
pub type Key = (String, usize);

/// Parsed expectations.
#[derive(Clone, Debug, Default)]
pub struct Expectations {
    /// Comment lines at the top of the file, kept verbatim when blessing.
    pub header: Vec<String>,
    /// Whole-file exclusions: (pattern, reason). Pattern is a file name with at most one `*`.
    pub excluded: Vec<(String, String)>,
    /// Expected failures and their reasons.
    pub failures: BTreeMap<Key, String>,
}

/// Whether `name` matches `pattern` (a name with at most one `*`).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((pre, post)) => {
            name.len() >= pre.len() + post.len() && name.starts_with(pre) && name.ends_with(post)
        }
    }
}

impl Expectations {
    /// Parses `text`; errors name the offending line.
    pub fn parse(text: &str) -> Result<Expectations, String> {
        let mut e = Expectations::default();
        let mut in_header = true;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                if in_header {
                    e.header.push(raw.to_string());
                }
                continue;
            }
            in_header = false;
            let (key, reason) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let reason = reason.trim().to_string();
            let (file, at) = key
                .rsplit_once(':')
                .ok_or_else(|| format!("line {}: expected file.wast:LINE, got {key:?}", i + 1))?;
            if at == "*" {
                e.excluded.push((file.to_string(), reason));
            } else {
                let n: usize = at
                    .parse()
                    .map_err(|_| format!("line {}: bad line number {at:?}", i + 1))?;
                e.failures.insert((file.to_string(), n), reason);
            }
        }
        while e.header.last().is_some_and(|l| l.trim().is_empty()) {
            e.header.pop();
        }
        Ok(e)
    }

    /// Reads `path`; a missing file is an empty list.
    pub fn load(path: &Path) -> Result<Expectations, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Expectations::parse(&text).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Expectations::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Merges `other` into `self` (for target-specific lists).
    pub fn merge(&mut self, other: &Expectations) {
        self.excluded.extend(other.excluded.iter().cloned());
        for (k, v) in &other.failures {
            self.failures.insert(k.clone(), v.clone());
        }
    }

    /// Whether `file` is excluded, and why.
    pub fn exclusion(&self, file: &str) -> Option<&str> {
        self.excluded
            .iter()
            .find(|(p, _)| glob_match(p, file))
            .map(|(_, r)| r.as_str())
    }

    /// Lines of `file` that must not be run (crashes and hangs).
    pub fn runtime_skips(&self, file: &str) -> Vec<usize> {
        self.failures
            .iter()
            .filter(|((f, _), r)| f == file && (r.starts_with("crashes") || r.starts_with("hangs")))
            .map(|((_, l), _)| *l)
            .collect()
    }

    /// The file text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for h in &self.header {
            out.push_str(h);
            out.push('\n');
        }
        if !self.header.is_empty() {
            out.push('\n');
        }
        for (p, r) in &self.excluded {
            let _ = writeln!(out, "{p}:* {r}");
        }
        if !self.excluded.is_empty() {
            out.push('\n');
        }
        for ((f, l), r) in &self.failures {
            let _ = writeln!(out, "{f}:{l} {r}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_render_round_trip() {
        let text = "# head\n# more\n\nsimd_*.wast:* SIMD not implemented\nf32.wast:12 nan payload\nf32.wast:3 crashes: SIGSEGV\n";
        let e = Expectations::parse(text).unwrap();
        assert_eq!(e.header, vec!["# head", "# more"]);
        assert_eq!(e.exclusion("simd_lane.wast"), Some("SIMD not implemented"));
        assert_eq!(e.exclusion("f32.wast"), None);
        assert_eq!(e.failures.len(), 2);
        assert_eq!(e.runtime_skips("f32.wast"), vec![3]);
        // Sorted by line number, not text.
        assert_eq!(
            e.render(),
            "# head\n# more\n\nsimd_*.wast:* SIMD not implemented\n\nf32.wast:3 crashes: SIGSEGV\nf32.wast:12 nan payload\n"
        );
        assert!(Expectations::parse("nonsense").is_err());
        assert!(Expectations::parse("a.wast:x y").is_err());
    }
}
