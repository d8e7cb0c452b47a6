//! Compile errors for people: file, line, column, the offending line with a
//! caret under the span, and a hint.

use std::fmt;
use std::ops::Range;

/// One compile error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong.
    pub message: String,
    /// Byte range in the source.
    pub span: Range<usize>,
    /// How to fix it, if the compiler can tell.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error at a span.
    pub fn new(message: impl Into<String>, span: Range<usize>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            span,
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }
}

/// Every error of one document, rendered against its source.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    /// The file name shown in messages.
    pub file: String,
    /// The source text.
    pub source: String,
    /// The errors, in source order.
    pub errors: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Line and column (both 1-based, column in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.source.len());
        let before = &self.source[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    /// The first error's line and column, for tests and summaries.
    pub fn first_position(&self) -> Option<(usize, usize)> {
        self.errors.first().map(|e| self.line_col(e.span.start))
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            let (line, col) = self.line_col(e.span.start);
            writeln!(f, "error: {}", e.message)?;
            writeln!(f, "  --> {}:{line}:{col}", self.file)?;
            let text = self.source.lines().nth(line - 1).unwrap_or("");
            let gutter = line.to_string().len();
            writeln!(f, "{:gutter$} |", "")?;
            writeln!(f, "{line} | {text}")?;
            let width = self.source[e.span.clone()]
                .lines()
                .next()
                .map_or(1, |l| l.chars().count().max(1));
            let width = width.min(text.chars().count().saturating_sub(col - 1).max(1));
            writeln!(
                f,
                "{:gutter$} | {}{}",
                "",
                " ".repeat(col - 1),
                "^".repeat(width)
            )?;
            if let Some(hint) = &e.hint {
                writeln!(f, "  = hint: {hint}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// The candidate closest to `word` by edit distance, if it is close enough
/// to be a plausible typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let best = candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .min_by_key(|(d, _)| *d)?;
    let limit = (word.chars().count() / 3).max(1);
    (best.0 <= limit).then(|| format!("did you mean `{}`?", best.1))
}

/// Edit distance counting an adjacent transposition as one edit
/// (optimal string alignment), so `hihg` is one edit from `high`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("urgncy", ["urgency", "region"]).as_deref(),
            Some("did you mean `urgency`?")
        );
        assert_eq!(did_you_mean("zzz", ["urgency"]), None);
        assert_eq!(
            did_you_mean("tema", ["team", "group"]).as_deref(),
            Some("did you mean `team`?")
        );
    }

    #[test]
    fn renders_position_and_caret() {
        let d = Diagnostics {
            file: "rules.toml".into(),
            source: "a = 1\nwhen = 'x == 1'\n".into(),
            errors: vec![Diagnostic::new("unknown name `x`", 14..15).hint("try `ticket`")],
        };
        let text = d.to_string();
        assert!(text.contains("rules.toml:2:9"), "{text}");
        assert!(text.contains("2 | when = 'x == 1'"), "{text}");
        assert!(text.contains("  |         ^\n"), "{text}");
        assert!(text.contains("hint: try `ticket`"), "{text}");
    }
}
