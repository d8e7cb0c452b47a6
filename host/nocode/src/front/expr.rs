//! The expression language of rule documents: its syntax tree and parser.
//!
//! ```text
//! expr    := or
//! or      := and ("or" and)*
//! and     := not ("and" not)*
//! not     := "not" not | compare
//! compare := sum (op sum | "in" sum | "matches" STRING)?   op: == != < <= > >= contains starts_with ends_with
//! sum     := product (("+" | "-" | "??") product)*
//! product := unary (("*" | "/") unary)*
//! unary   := "-" unary | primary
//! primary := INT | DURATION | STRING | true | false | "[" expr,* "]" | "(" expr ")"
//!          | "if" expr "then" expr "else" expr
//!          | NAME "(" NAME "in" expr "where" expr ")"     (count, any, all)
//!          | NAME "(" expr,* ")" | NAME ("." NAME)*
//! ```
//! Strings are double-quoted and interpolate `{expr}`; `{{` and `}}` are
//! literal braces. Durations are `15m`, `24h`, `7d`. Spans are byte ranges
//! of the whole document.

use crate::diag::Diagnostic;
use std::ops::Range;

/// A byte range in the document.
pub type Span = Range<usize>;

/// An expression with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is.
    pub span: Span,
}

/// One piece of an interpolated string.
#[derive(Debug, Clone, PartialEq)]
pub enum StrPart {
    /// Literal text.
    Lit(String),
    /// An interpolated expression.
    Expr(Expr),
}

/// The shapes of expressions.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// An integer literal.
    Int(i64),
    /// A duration literal, in milliseconds.
    Duration(i64),
    /// A boolean literal.
    Bool(bool),
    /// A string, possibly interpolated.
    Str(Vec<StrPart>),
    /// A list literal.
    List(Vec<Expr>),
    /// A dotted name: `ticket.requester.tier`.
    Path(Vec<(String, Span)>),
    /// A function call.
    Call(String, Vec<Expr>),
    /// Fields of a computed value: `money(1, "EUR").amount`.
    Member(Box<Expr>, Vec<(String, Span)>),
    /// `count(x in list where cond)` and friends.
    Comprehension {
        /// `count`, `any` or `all`.
        func: String,
        /// The bound name.
        var: String,
        /// The list iterated.
        source: Box<Expr>,
        /// The condition per element.
        cond: Box<Expr>,
    },
    /// Negation, arithmetic or logical.
    Unary(UnaryOp, Box<Expr>),
    /// A binary operation.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `if c then a else b`.
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `text matches "regex"`.
    Matches(Box<Expr>, String, Span),
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `not`
    Not,
    /// `-`
    Neg,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Contains,
    StartsWith,
    EndsWith,
    Add,
    Sub,
    Mul,
    Div,
    Coalesce,
}

impl BinaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Or => "or",
            And => "and",
            Eq => "==",
            Ne => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            In => "in",
            Contains => "contains",
            StartsWith => "starts_with",
            EndsWith => "ends_with",
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Coalesce => "??",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Int(i64),
    Duration(i64),
    Str(Vec<StrPart>),
    Name(String),
    Sym(&'static str),
    End,
}

const SYMBOLS: &[&str] = &[
    "==", "!=", "<=", ">=", "??", "<", ">", "+", "-", "*", "/", "(", ")", "[", "]", ",", ".",
];

struct Lexer<'a> {
    src: &'a str,
    base: usize,
    pos: usize,
}

impl Lexer<'_> {
    fn err(&self, msg: impl Into<String>, at: Range<usize>) -> Diagnostic {
        Diagnostic::new(msg, self.base + at.start..self.base + at.end)
    }

    fn tokens(mut self) -> Result<Vec<(Tok, Span)>, Diagnostic> {
        let mut out = Vec::new();
        loop {
            let rest = &self.src[self.pos..];
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            let start = self.pos;
            let Some(c) = trimmed.chars().next() else {
                out.push((Tok::End, self.base + start..self.base + start));
                return Ok(out);
            };
            let tok = if c.is_ascii_digit() {
                self.number()?
            } else if c.is_alphabetic() || c == '_' {
                let len = trimmed
                    .find(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
                    .unwrap_or(trimmed.len());
                self.pos += len;
                Tok::Name(trimmed[..len].to_string())
            } else if c == '"' {
                self.string()?
            } else if let Some(sym) = SYMBOLS.iter().find(|s| trimmed.starts_with(**s)) {
                self.pos += sym.len();
                Tok::Sym(sym)
            } else {
                let end = start + c.len_utf8();
                return Err(self.err(format!("unexpected character `{c}`"), start..end));
            };
            out.push((tok, self.base + start..self.base + self.pos));
        }
    }

    fn number(&mut self) -> Result<Tok, Diagnostic> {
        let start = self.pos;
        let rest = &self.src[start..];
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '_'))
            .unwrap_or(rest.len());
        let value: i64 = rest[..digits]
            .replace('_', "")
            .parse()
            .map_err(|_| self.err("number too large", start..start + digits))?;
        self.pos += digits;
        let unit_len = self.src[self.pos..]
            .find(|c: char| !c.is_alphanumeric())
            .unwrap_or(self.src.len() - self.pos);
        let unit = &self.src[self.pos..self.pos + unit_len];
        if unit.is_empty() {
            return Ok(Tok::Int(value));
        }
        let ms = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => {
                return Err(self
                    .err(
                        format!("unknown unit `{unit}`"),
                        self.pos..self.pos + unit_len,
                    )
                    .hint("durations are written like 30s, 15m, 24h or 7d"));
            }
        };
        self.pos += unit_len;
        value
            .checked_mul(ms)
            .map(Tok::Duration)
            .ok_or_else(|| self.err("duration too large", start..self.pos))
    }

    fn string(&mut self) -> Result<Tok, Diagnostic> {
        let start = self.pos;
        self.pos += 1;
        let Some(end) = string_end(self.src, self.pos) else {
            // An interpolation left open swallows the closing quote.
            let rest = &self.src[self.pos..];
            let open = rest
                .match_indices('{')
                .map(|(i, _)| i)
                .find(|i| !rest[*i..].starts_with("{{") && (*i == 0 || !rest[..*i].ends_with('{')));
            return Err(match open {
                Some(i) => self
                    .err("unclosed `{` in text", self.pos + i..self.src.len())
                    .hint("write `{{` for a literal brace"),
                None => self.err("unterminated string", start..self.src.len()),
            });
        };
        let parts = parse_template(&self.src[self.pos..end], self.base + self.pos)?;
        self.pos = end + 1;
        Ok(Tok::Str(parts))
    }
}

/// The index of the `"` closing a string whose text starts at `from`;
/// quotes inside `{…}` interpolations belong to the inner expression.
fn string_end(src: &str, from: usize) -> Option<usize> {
    let bytes = src.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return Some(i),
            b'{' if bytes.get(i + 1) == Some(&b'{') => i += 2,
            b'{' => i = interpolation_end(src, i + 1)? + 1,
            _ => i += 1,
        }
    }
    None
}

/// The index of the `}` closing an interpolation whose text starts at
/// `from`, skipping strings and nested braces inside it.
fn interpolation_end(src: &str, from: usize) -> Option<usize> {
    let bytes = src.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'}' => return Some(i),
            b'"' => i = string_end(src, i + 1)? + 1,
            b'{' => i = interpolation_end(src, i + 1)? + 1,
            _ => i += 1,
        }
    }
    None
}

/// Parses text with `{expr}` interpolations; `base` is the text's offset
/// in the document.
pub fn parse_template(text: &str, base: usize) -> Result<Vec<StrPart>, Diagnostic> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < text.len() {
        match bytes[i] {
            b'{' if bytes.get(i + 1) == Some(&b'{') => {
                lit.push('{');
                i += 2;
            }
            b'}' if bytes.get(i + 1) == Some(&b'}') => {
                lit.push('}');
                i += 2;
            }
            b'{' => {
                let close = interpolation_end(text, i + 1).ok_or_else(|| {
                    Diagnostic::new("unclosed `{` in text", base + i..base + text.len())
                        .hint("write `{{` for a literal brace")
                })?;
                if !lit.is_empty() {
                    parts.push(StrPart::Lit(std::mem::take(&mut lit)));
                }
                parts.push(StrPart::Expr(parse(&text[i + 1..close], base + i + 1)?));
                i = close + 1;
            }
            b'}' => {
                return Err(
                    Diagnostic::new("unmatched `}` in text", base + i..base + i + 1)
                        .hint("write `}}` for a literal brace"),
                );
            }
            _ => {
                let c = text[i..].chars().next().expect("in bounds");
                lit.push(c);
                i += c.len_utf8();
            }
        }
    }
    if !lit.is_empty() || parts.is_empty() {
        parts.push(StrPart::Lit(lit));
    }
    Ok(parts)
}

/// Parses an expression; `base` is its offset in the document.
pub fn parse(src: &str, base: usize) -> Result<Expr, Diagnostic> {
    let tokens = Lexer { src, base, pos: 0 }.tokens()?;
    let mut p = Parser { tokens, pos: 0 };
    if p.peek() == &Tok::End {
        return Err(Diagnostic::new("empty expression", base..base + src.len()));
    }
    let e = p.expr()?;
    match p.peek() {
        Tok::End => Ok(e),
        _ => Err(
            Diagnostic::new("unexpected text after the expression", p.span())
                .hint("join conditions with `and` / `or`"),
        ),
    }
}

struct Parser {
    tokens: Vec<(Tok, Span)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.tokens[self.pos].0
    }

    fn span(&self) -> Span {
        self.tokens[self.pos].1.clone()
    }

    fn bump(&mut self) -> (Tok, Span) {
        let t = self.tokens[self.pos].clone();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn is_name(&self, name: &str) -> bool {
        matches!(self.peek(), Tok::Name(n) if n == name)
    }

    fn is_sym(&self, sym: &str) -> bool {
        matches!(self.peek(), Tok::Sym(s) if *s == sym)
    }

    fn expect_sym(&mut self, sym: &str) -> Result<Span, Diagnostic> {
        if self.is_sym(sym) {
            Ok(self.bump().1)
        } else {
            Err(Diagnostic::new(format!("expected `{sym}`"), self.span()))
        }
    }

    /// After an item of a list: `,`, or the closing symbol (left in place).
    fn separator(&mut self, close: &str) -> Result<(), Diagnostic> {
        if self.is_sym(close) {
            Ok(())
        } else if self.is_sym(",") {
            self.bump();
            Ok(())
        } else {
            Err(Diagnostic::new(
                format!("expected `,` or `{close}`"),
                self.span(),
            ))
        }
    }

    fn expect_name(&mut self, name: &str) -> Result<(), Diagnostic> {
        if self.is_name(name) {
            self.bump();
            Ok(())
        } else {
            Err(Diagnostic::new(format!("expected `{name}`"), self.span()))
        }
    }

    fn binary(op: BinaryOp, l: Expr, r: Expr) -> Expr {
        let span = l.span.start..r.span.end;
        Expr {
            kind: ExprKind::Binary(op, Box::new(l), Box::new(r)),
            span,
        }
    }

    fn expr(&mut self) -> Result<Expr, Diagnostic> {
        let mut l = self.and()?;
        while self.is_name("or") {
            self.bump();
            let r = self.and()?;
            l = Self::binary(BinaryOp::Or, l, r);
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Expr, Diagnostic> {
        let mut l = self.not()?;
        while self.is_name("and") {
            self.bump();
            let r = self.not()?;
            l = Self::binary(BinaryOp::And, l, r);
        }
        Ok(l)
    }

    fn not(&mut self) -> Result<Expr, Diagnostic> {
        if self.is_name("not") {
            let start = self.bump().1.start;
            let inner = self.not()?;
            let span = start..inner.span.end;
            return Ok(Expr {
                kind: ExprKind::Unary(UnaryOp::Not, Box::new(inner)),
                span,
            });
        }
        self.compare()
    }

    fn compare(&mut self) -> Result<Expr, Diagnostic> {
        let l = self.sum()?;
        let op = match self.peek() {
            Tok::Sym("==") => BinaryOp::Eq,
            Tok::Sym("!=") => BinaryOp::Ne,
            Tok::Sym("<") => BinaryOp::Lt,
            Tok::Sym("<=") => BinaryOp::Le,
            Tok::Sym(">") => BinaryOp::Gt,
            Tok::Sym(">=") => BinaryOp::Ge,
            Tok::Name(n) if n == "in" => BinaryOp::In,
            Tok::Name(n) if n == "contains" => BinaryOp::Contains,
            Tok::Name(n) if n == "starts_with" => BinaryOp::StartsWith,
            Tok::Name(n) if n == "ends_with" => BinaryOp::EndsWith,
            Tok::Name(n) if n == "matches" => {
                self.bump();
                let (tok, span) = self.bump();
                let Tok::Str(parts) = tok else {
                    return Err(Diagnostic::new(
                        "`matches` needs a regular expression string",
                        span,
                    ));
                };
                let [StrPart::Lit(pattern)] = parts.as_slice() else {
                    return Err(Diagnostic::new(
                        "a regular expression cannot interpolate `{…}`",
                        span,
                    )
                    .hint("write `{{` / `}}` for literal braces"));
                };
                let all = l.span.start..span.end;
                return Ok(Expr {
                    kind: ExprKind::Matches(Box::new(l), pattern.clone(), span),
                    span: all,
                });
            }
            _ => return Ok(l),
        };
        self.bump();
        let r = self.sum()?;
        Ok(Self::binary(op, l, r))
    }

    fn sum(&mut self) -> Result<Expr, Diagnostic> {
        let mut l = self.product()?;
        loop {
            let op = match self.peek() {
                Tok::Sym("+") => BinaryOp::Add,
                Tok::Sym("-") => BinaryOp::Sub,
                Tok::Sym("??") => BinaryOp::Coalesce,
                _ => return Ok(l),
            };
            self.bump();
            let r = self.product()?;
            l = Self::binary(op, l, r);
        }
    }

    fn product(&mut self) -> Result<Expr, Diagnostic> {
        let mut l = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Sym("*") => BinaryOp::Mul,
                Tok::Sym("/") => BinaryOp::Div,
                _ => return Ok(l),
            };
            self.bump();
            let r = self.unary()?;
            l = Self::binary(op, l, r);
        }
    }

    fn unary(&mut self) -> Result<Expr, Diagnostic> {
        if self.is_sym("-") {
            let start = self.bump().1.start;
            let inner = self.unary()?;
            let span = start..inner.span.end;
            return Ok(Expr {
                kind: ExprKind::Unary(UnaryOp::Neg, Box::new(inner)),
                span,
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, Diagnostic> {
        let (tok, span) = self.bump();
        let kind = match tok {
            Tok::Int(v) => ExprKind::Int(v),
            Tok::Duration(v) => ExprKind::Duration(v),
            Tok::Str(parts) => ExprKind::Str(parts),
            Tok::Sym("(") => {
                let inner = self.expr()?;
                self.expect_sym(")")?;
                return self.members(inner);
            }
            Tok::Sym("[") => {
                let mut items = Vec::new();
                while !self.is_sym("]") {
                    items.push(self.expr()?);
                    self.separator("]")?;
                }
                let end = self.bump().1.end;
                return Ok(Expr {
                    kind: ExprKind::List(items),
                    span: span.start..end,
                });
            }
            Tok::Name(n) if n == "true" || n == "false" => ExprKind::Bool(n == "true"),
            Tok::Name(n) if n == "if" => {
                let c = self.expr()?;
                self.expect_name("then")?;
                let a = self.expr()?;
                self.expect_name("else")?;
                let b = self.expr()?;
                let all = span.start..b.span.end;
                return Ok(Expr {
                    kind: ExprKind::If(Box::new(c), Box::new(a), Box::new(b)),
                    span: all,
                });
            }
            Tok::Name(n) if self.is_sym("(") => {
                let call = self.call(n, span)?;
                return self.members(call);
            }
            Tok::Name(n) => {
                let mut path = vec![(n, span.clone())];
                while self.is_sym(".") {
                    self.bump();
                    match self.bump() {
                        (Tok::Name(f), s) => path.push((f, s)),
                        (_, s) => return Err(Diagnostic::new("expected a name after `.`", s)),
                    }
                }
                let end = path.last().expect("non-empty").1.end;
                return Ok(Expr {
                    kind: ExprKind::Path(path),
                    span: span.start..end,
                });
            }
            Tok::End => return Err(Diagnostic::new("expression ends too early", span)),
            Tok::Sym(s) => {
                return Err(Diagnostic::new(format!("unexpected `{s}`"), span));
            }
        };
        Ok(Expr { kind, span })
    }

    /// `.name` accesses after a call or a parenthesized expression.
    fn members(&mut self, e: Expr) -> Result<Expr, Diagnostic> {
        let mut names = Vec::new();
        while self.is_sym(".") {
            self.bump();
            match self.bump() {
                (Tok::Name(f), s) => names.push((f, s)),
                (_, s) => return Err(Diagnostic::new("expected a name after `.`", s)),
            }
        }
        if names.is_empty() {
            return Ok(e);
        }
        let span = e.span.start..names.last().expect("non-empty").1.end;
        Ok(Expr {
            kind: ExprKind::Member(Box::new(e), names),
            span,
        })
    }

    fn call(&mut self, name: String, span: Span) -> Result<Expr, Diagnostic> {
        self.expect_sym("(")?;
        let comprehension = matches!(name.as_str(), "count" | "any" | "all")
            && matches!(self.tokens.get(self.pos + 1), Some((Tok::Name(n), _)) if n == "in");
        if comprehension {
            let Tok::Name(var) = self.bump().0 else {
                unreachable!("checked above")
            };
            self.expect_name("in")?;
            let source = self.expr()?;
            self.expect_name("where")?;
            let cond = self.expr()?;
            let end = self.expect_sym(")")?.end;
            return Ok(Expr {
                kind: ExprKind::Comprehension {
                    func: name,
                    var,
                    source: Box::new(source),
                    cond: Box::new(cond),
                },
                span: span.start..end,
            });
        }
        let mut args = Vec::new();
        while !self.is_sym(")") {
            args.push(self.expr()?);
            self.separator(")")?;
        }
        let end = self.bump().1.end;
        Ok(Expr {
            kind: ExprKind::Call(name, args),
            span: span.start..end,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Expr {
        parse(s, 0).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    #[test]
    fn precedence() {
        let e = p("a == 1 or b and not c");
        let ExprKind::Binary(BinaryOp::Or, l, r) = e.kind else {
            panic!("{e:?}")
        };
        assert!(matches!(l.kind, ExprKind::Binary(BinaryOp::Eq, ..)));
        assert!(matches!(r.kind, ExprKind::Binary(BinaryOp::And, ..)));
        let e = p("1 + 2 * 3");
        let ExprKind::Binary(BinaryOp::Add, _, r) = e.kind else {
            panic!()
        };
        assert!(matches!(r.kind, ExprKind::Binary(BinaryOp::Mul, ..)));
    }

    #[test]
    fn strings_durations_comprehensions() {
        let e = p(r#""a{x.y}b{{""#);
        let ExprKind::Str(parts) = e.kind else {
            panic!()
        };
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2], StrPart::Lit("b{".into()));
        assert_eq!(p("7d").kind, ExprKind::Duration(7 * 86_400_000));
        assert!(matches!(
            p("count(b in history where b.id != ticket.id)").kind,
            ExprKind::Comprehension { .. }
        ));
        assert!(matches!(
            p(r#"subject matches "^re""#).kind,
            ExprKind::Matches(..)
        ));
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = parse("a == 3x", 10).unwrap_err();
        assert_eq!(e.span, 16..17);
        let e = parse("a == ", 0).unwrap_err();
        assert_eq!(e.message, "expression ends too early");
        let e = parse("a b", 0).unwrap_err();
        assert_eq!(e.span, 2..3);
        assert!(parse("\"{x\"", 0).unwrap_err().message.contains("unclosed"));
        assert!(
            parse("a # b", 0)
                .unwrap_err()
                .message
                .contains("unexpected character")
        );
    }
}
