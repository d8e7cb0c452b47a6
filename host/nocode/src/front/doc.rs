//! Reading the TOML document with a span on every value, so every error
//! can point at the key or value it is about.

use crate::diag::{Diagnostic, did_you_mean};
use crate::front::expr::{self, Expr, Span, StrPart};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

type R<T> = Result<T, Diagnostic>;

/// A value of the document with its span.
#[derive(Clone, Copy)]
pub struct Node<'a> {
    /// The value.
    pub value: &'a DeValue<'a>,
    /// Its byte range.
    pub span: (usize, usize),
    src: &'a str,
}

/// Parses the document.
pub fn parse(src: &str) -> R<Spanned<DeTable<'_>>> {
    DeTable::parse(src).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        Diagnostic::new(format!("invalid TOML: {}", e.message().trim()), span)
    })
}

impl<'a> Node<'a> {
    /// The whole document as a node.
    pub fn root(src: &'a str, value: &'a DeValue<'a>) -> Node<'a> {
        Node {
            value,
            span: (0, src.len()),
            src,
        }
    }

    /// Wraps a spanned value.
    pub fn new(src: &'a str, v: &'a Spanned<DeValue<'a>>) -> Node<'a> {
        Node {
            value: v.get_ref(),
            span: (v.span().start, v.span().end),
            src,
        }
    }

    /// The span as a range.
    pub fn range(&self) -> Span {
        self.span.0..self.span.1
    }

    fn kind(&self) -> &'static str {
        self.value.type_str()
    }

    /// An error at this value.
    pub fn error(&self, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::new(msg, self.range())
    }

    /// This value as a table with tracked keys.
    pub fn table(&self, what: &str) -> R<Table<'a>> {
        match self.value {
            DeValue::Table(t) => Ok(Table {
                table: t,
                span: self.span,
                src: self.src,
                what: what.to_string(),
                allowed: Vec::new(),
            }),
            _ => Err(self.error(format!("{what} must be a table, found {}", self.kind()))),
        }
    }

    /// This value as an array.
    pub fn array(&self, what: &str) -> R<Vec<Node<'a>>> {
        match self.value {
            DeValue::Array(items) => Ok(items.iter().map(|v| Node::new(self.src, v)).collect()),
            _ => Err(self.error(format!("{what} must be an array, found {}", self.kind()))),
        }
    }

    /// This value as a string.
    pub fn str(&self, what: &str) -> R<&'a str> {
        match self.value {
            DeValue::String(s) => Ok(s.as_ref()),
            _ => Err(self.error(format!("{what} must be a string, found {}", self.kind()))),
        }
    }

    /// This value as an integer.
    pub fn int(&self, what: &str) -> R<i64> {
        match self.value {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .map_err(|_| self.error(format!("{what} is out of range"))),
            DeValue::Float(_) => Err(self
                .error(format!("{what} must be a whole number"))
                .hint("no floats: write money in minor units, e.g. 1250 for 12.50")),
            _ => Err(self.error(format!("{what} must be an integer, found {}", self.kind()))),
        }
    }

    /// This value as a boolean.
    pub fn bool(&self, what: &str) -> R<bool> {
        match self.value {
            DeValue::Boolean(b) => Ok(*b),
            _ => Err(self.error(format!(
                "{what} must be true or false, found {}",
                self.kind()
            ))),
        }
    }

    /// Where the content of this string value starts in the document.
    pub fn content_start(&self) -> usize {
        let raw = &self.src[self.span.0..self.span.1];
        if raw.starts_with("'''") || raw.starts_with("\"\"\"") {
            let after = self.span.0 + 3;
            if self.src[after..].starts_with('\n') {
                after + 1
            } else if self.src[after..].starts_with("\r\n") {
                after + 2
            } else {
                after
            }
        } else if raw.starts_with('\'') || raw.starts_with('"') {
            self.span.0 + 1
        } else {
            self.span.0
        }
    }

    /// This string value parsed as an expression.
    pub fn expr(&self, what: &str) -> R<Expr> {
        match self.value {
            DeValue::String(s) => expr::parse(s, self.content_start()),
            DeValue::Integer(_) => Ok(Expr {
                kind: expr::ExprKind::Int(self.int(what)?),
                span: self.range(),
            }),
            DeValue::Boolean(b) => Ok(Expr {
                kind: expr::ExprKind::Bool(*b),
                span: self.range(),
            }),
            _ => Err(self.error(format!(
                "{what} must be an expression string, found {}",
                self.kind()
            ))),
        }
    }

    /// This string value parsed as text with `{expr}` interpolation.
    pub fn template(&self, what: &str) -> R<Expr> {
        let s = self.str(what)?;
        let parts: Vec<StrPart> = expr::parse_template(s, self.content_start())?;
        Ok(Expr {
            kind: expr::ExprKind::Str(parts),
            span: self.range(),
        })
    }
}

/// A table whose keys are checked against what the reader asked for.
pub struct Table<'a> {
    table: &'a DeTable<'a>,
    /// Span of the table.
    pub span: (usize, usize),
    src: &'a str,
    what: String,
    allowed: Vec<&'static str>,
}

impl<'a> Table<'a> {
    /// The value at a key, if present.
    pub fn get(&mut self, key: &'static str) -> Option<Node<'a>> {
        self.allowed.push(key);
        self.table
            .iter()
            .find(|(k, _)| k.get_ref() == key)
            .map(|(_, v)| Node::new(self.src, v))
    }

    /// The value at a key, or an error naming the key.
    pub fn require(&mut self, key: &'static str) -> R<Node<'a>> {
        self.get(key).ok_or_else(|| {
            Diagnostic::new(
                format!("{} needs `{key}`", self.what),
                self.span.0..self.span.0 + 1,
            )
        })
    }

    /// Every entry in document order, for tables keyed by user names.
    pub fn entries(&self) -> Vec<(&'a str, Span, Node<'a>)> {
        let mut entries: Vec<_> = self
            .table
            .iter()
            .map(|(k, v)| (k.get_ref().as_ref(), k.span(), Node::new(self.src, v)))
            .collect();
        entries.sort_by_key(|(_, span, _)| span.start);
        entries
    }

    /// Fails on the first key nobody asked for, with a suggestion.
    pub fn finish(self) -> R<()> {
        for (k, _) in self.table.iter() {
            let key: &str = k.get_ref();
            if !self.allowed.contains(&key) {
                let hint = did_you_mean(key, self.allowed.iter().copied())
                    .unwrap_or_else(|| format!("{} takes {}", self.what, self.allowed.join(", ")));
                return Err(Diagnostic::new(
                    format!("unknown key `{key}` in {}", self.what),
                    k.span(),
                )
                .hint(hint));
            }
        }
        Ok(())
    }
}
