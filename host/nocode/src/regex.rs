//! Regular expressions compiled at compile time into a byte-level DFA
//! transition table that the emitted code walks; nothing is interpreted
//! per event beyond one table load per input byte.

use regex_automata::dfa::{Automaton, StartKind, dense};
use regex_automata::util::start;
use regex_automata::{Anchored, MatchKind};
use std::collections::HashMap;

/// Most states a compiled expression may have (each costs 512 bytes).
pub const MAX_STATES: usize = 1024;

/// State flag: a match ended just before the byte that led here.
pub const FLAG_MATCH: u8 = 1;
/// State flag: the input matches if it ends in this state.
pub const FLAG_ACCEPT_AT_END: u8 = 2;
/// State flag: no match is possible any more.
pub const FLAG_DEAD: u8 = 4;

/// A DFA as flat tables.
#[derive(Debug, Clone, PartialEq)]
pub struct Dfa {
    /// `next[state * 256 + byte]`.
    pub next: Vec<u16>,
    /// Flags per state.
    pub flags: Vec<u8>,
    /// Whether any match counts (search) or only one spanning the whole text.
    pub search: bool,
}

impl Dfa {
    /// Compiles `pattern`; `full` asks for the whole text to match,
    /// otherwise a match anywhere counts. State 0 is the start state.
    pub fn compile(pattern: &str, full: bool) -> Result<Dfa, String> {
        let anchored = if full { Anchored::Yes } else { Anchored::No };
        let dfa = dense::Builder::new()
            .configure(
                dense::Config::new()
                    .match_kind(MatchKind::All)
                    .start_kind(if full {
                        StartKind::Anchored
                    } else {
                        StartKind::Unanchored
                    })
                    .dfa_size_limit(Some(8 << 20)),
            )
            .build(pattern)
            .map_err(|e| e.to_string().lines().last().unwrap_or("").to_string())?;
        let start = dfa
            .start_state(&start::Config::new().anchored(anchored))
            .map_err(|e| e.to_string())?;
        let mut index: HashMap<_, u16> = HashMap::from([(start, 0)]);
        let mut order = vec![start];
        let mut next = Vec::new();
        let mut flags = Vec::new();
        let mut i = 0;
        while i < order.len() {
            let sid = order[i];
            i += 1;
            if dfa.is_quit_state(sid) {
                return Err("the expression needs Unicode word boundaries; use (?-u:\\b)".into());
            }
            let mut f = 0;
            if dfa.is_match_state(sid) {
                f |= FLAG_MATCH;
            }
            if dfa.is_match_state(dfa.next_eoi_state(sid)) {
                f |= FLAG_ACCEPT_AT_END;
            }
            if dfa.is_dead_state(sid) {
                f |= FLAG_DEAD;
            }
            flags.push(f);
            for byte in 0..=255u8 {
                let to = dfa.next_state(sid, byte);
                let n = order.len();
                let id = *index.entry(to).or_insert_with(|| {
                    order.push(to);
                    n as u16
                });
                next.push(id);
            }
            if order.len() > MAX_STATES {
                return Err(format!(
                    "the expression needs more than {MAX_STATES} states"
                ));
            }
        }
        Ok(Dfa {
            next,
            flags,
            search: !full,
        })
    }

    /// Runs the tables on text the way the emitted code does.
    #[cfg(test)]
    pub fn is_match(&self, text: &[u8]) -> bool {
        let mut state = 0usize;
        for &byte in text {
            state = self.next[state * 256 + usize::from(byte)].into();
            let f = self.flags[state];
            if self.search && f & FLAG_MATCH != 0 {
                return true;
            }
            if f & FLAG_DEAD != 0 {
                return false;
            }
        }
        self.flags[state] & FLAG_ACCEPT_AT_END != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_and_full_match_agree_with_the_regex_crate() {
        let cases = [
            ("^INC-[0-9]+$", "INC-42"),
            ("^INC-[0-9]+$", "INC-42x"),
            ("refund|chargeback", "please refund me"),
            ("refund|chargeback", "nothing"),
            ("(?i)urgent", "this is URGENT"),
            ("a|ab", "ab"),
            ("", ""),
            ("é+", "café"),
        ];
        for (pattern, text) in cases {
            let search = Dfa::compile(pattern, false).unwrap();
            let expected = regex_automata::meta::Regex::new(pattern)
                .unwrap()
                .is_match(text);
            assert_eq!(
                search.is_match(text.as_bytes()),
                expected,
                "{pattern} on {text}"
            );
            let full = Dfa::compile(pattern, true).unwrap();
            let anchored = format!("^(?:{pattern})$");
            let expected = regex_automata::meta::Regex::new(&anchored)
                .unwrap()
                .is_match(text);
            assert_eq!(
                full.is_match(text.as_bytes()),
                expected,
                "full {pattern} on {text}"
            );
        }
    }

    #[test]
    fn bad_patterns_are_errors() {
        assert!(Dfa::compile("(", false).is_err());
        assert!(Dfa::compile("[a-", false).is_err());
    }
}
