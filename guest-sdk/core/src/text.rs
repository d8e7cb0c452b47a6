//! Text checks and formatting used by form validation and messages.

/// Whether the text is empty or only whitespace (what "required" means).
pub fn is_blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// Characters (Unicode scalar values) in the text: what a text field's
/// maximum length counts. (Every UTF-8 byte but a continuation byte starts
/// a character: `s.chars().count()` in a few bytes of code.)
pub fn char_count(s: &str) -> usize {
    s.bytes().filter(|&b| (b as i8) >= -0x40).count()
}

/// Whether the text is a valid `YYYY-MM-DD` calendar date.
pub fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: core::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<u32>().ok());
    match (num(0..4), num(5..7), num(8..10)) {
        (Some(y), Some(m), Some(d)) => {
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let days = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            (1..=12).contains(&m) && d >= 1 && d <= days
        }
        _ => false,
    }
}

/// Room for any `i64` in decimal (`-9223372036854775808`).
pub const INT_TEXT_MAX: usize = 20;

// The writers below index without panicking (iterators and `get_mut`),
// so the no-code runtime links no panic formatting.

/// Writes the digits of `v` at the end of `buf`; returns where they start.
fn write_digits(mut v: u64, buf: &mut [u8]) -> usize {
    let mut written = 0;
    for slot in buf.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        written += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.len() - written
}

/// Puts a `-` before the text starting at `at`; returns the new start.
fn prepend_minus(at: usize, buf: &mut [u8]) -> usize {
    match at.checked_sub(1) {
        Some(before) => {
            if let Some(slot) = buf.get_mut(before) {
                *slot = b'-';
            }
            before
        }
        None => at,
    }
}

/// Writes `v` in decimal at the end of `buf`; returns where the text starts.
pub fn write_u64(v: u64, buf: &mut [u8; INT_TEXT_MAX]) -> usize {
    write_digits(v, buf)
}

/// Writes `v` in decimal (with a leading `-` when negative) at the end of
/// `buf`; returns where the text starts.
pub fn write_i64(v: i64, buf: &mut [u8; INT_TEXT_MAX]) -> usize {
    let at = write_digits(v.unsigned_abs(), buf);
    if v < 0 { prepend_minus(at, buf) } else { at }
}

/// Bytes of an amount in minor units as text, before its currency code:
/// sign, whole units, point, two digits and a space (`-12.50 `).
pub const MONEY_TEXT_MAX: usize = INT_TEXT_MAX + 4;

/// Writes `amount_minor` as `[-]units.cc ` (the currency code follows) at
/// the end of `buf`; returns where the text starts. This is how money reads
/// in messages: `-12.50 EUR`.
pub fn write_money(amount_minor: i64, buf: &mut [u8; MONEY_TEXT_MAX]) -> usize {
    let abs = amount_minor.unsigned_abs();
    let cents = (abs % 100) as u8;
    let (units, tail) = buf.split_at_mut(MONEY_TEXT_MAX - 4);
    tail.copy_from_slice(&[b'.', b'0' + cents / 10, b'0' + cents % 10, b' ']);
    let at = write_digits(abs / 100, units);
    if amount_minor < 0 {
        prepend_minus(at, buf)
    } else {
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert!(is_iso_date("2024-02-29"));
        assert!(!is_iso_date("2023-02-29"));
        assert!(!is_iso_date("2023-13-01"));
        assert!(!is_iso_date("2023-1-01"));
        assert!(!is_iso_date("2023-04-31"));
        assert!(!is_iso_date("2023-00-10"));
        assert!(!is_iso_date("2023-é-010"));
    }

    #[test]
    fn blanks_and_counts() {
        assert!(is_blank(" \t\u{a0}\u{3000}\n"));
        assert!(!is_blank(" x "));
        assert_eq!(char_count("héllo"), 5);
    }

    #[test]
    fn numbers_and_money() {
        let text = |v: i64| {
            let mut b = [0; INT_TEXT_MAX];
            let at = write_i64(v, &mut b);
            core::str::from_utf8(&b[at..]).unwrap().as_bytes().to_vec()
        };
        assert_eq!(text(0), b"0");
        assert_eq!(text(-42), b"-42");
        assert_eq!(text(i64::MIN), b"-9223372036854775808");
        assert_eq!(text(i64::MAX), b"9223372036854775807");
        let money = |v: i64| {
            let mut b = [0; MONEY_TEXT_MAX];
            let at = write_money(v, &mut b);
            b[at..].to_vec()
        };
        assert_eq!(money(1250), b"12.50 ");
        assert_eq!(money(-5), b"-0.05 ");
        assert_eq!(money(i64::MIN), b"-92233720368547758.08 ");
    }
}
