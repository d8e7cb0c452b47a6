//! Reading what the canonical ABI lowered into memory: strings, lists of
//! strings and `field-value`s, and handing text back as one `i64`.

use docket_guest_core::text::{INT_TEXT_MAX, write_i64};

/// Text returned to the emitted code: `ptr | len << 32`.
pub type Text = u64;

/// Packs a text for return.
pub fn pair(ptr: *const u8, len: usize) -> Text {
    (ptr as usize as u64 & 0xffff_ffff) | ((len as u64) << 32)
}

/// The `len` bytes at `ptr` (none when `len` is 0, whatever `ptr` is).
///
/// # Safety
/// When `len > 0`, `ptr` addresses `len` readable bytes that outlive the
/// call.
pub unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if len == 0 {
        return &[];
    }
    // SAFETY: as documented.
    unsafe { core::slice::from_raw_parts(ptr, len) }
}

/// The bytes as text.
///
/// # Safety
/// As [`bytes`], and the bytes are valid UTF-8.
pub unsafe fn utf8<'a>(ptr: *const u8, len: usize) -> &'a str {
    // SAFETY: as documented.
    unsafe { core::str::from_utf8_unchecked(bytes(ptr, len)) }
}

/// The lowered string `(ptr: u32, len: u32)` at `at`.
///
/// # Safety
/// `at` addresses a lowered string (8 bytes, 4-aligned).
pub unsafe fn str_of<'a>(at: *const u8) -> &'a [u8] {
    // SAFETY: as documented.
    unsafe {
        let ptr = *(at as *const u32) as usize as *const u8;
        let len = *(at.add(4) as *const u32) as usize;
        bytes(ptr, len)
    }
}

/// Where a `field-value`'s payload starts: after the one-byte case tag,
/// aligned to its widest case (`s64`). The compiler checks its ABI agrees.
pub const FIELD_VALUE_PAYLOAD: usize = 8;

/// A lowered `field-value`, as far as its text forms go (the SDK's
/// `FieldValue::text_values`).
pub enum FieldValue {
    /// No value (the field is not set).
    Missing,
    /// `text`, `date` or `choice`: the text itself.
    Text(*const u8, usize),
    /// `integer`: its decimal form.
    Integer(i64),
    /// `checkbox`: `true` or `false`.
    Checkbox(bool),
    /// `choices`: each choice (a list of `len` strings).
    Choices(*const u8, usize),
    /// Cases without a text form (decimal, datetime, money).
    Other,
}

impl FieldValue {
    /// Reads the value at `v` (null: missing).
    ///
    /// # Safety
    /// `v` is null or addresses a lowered `field-value`.
    pub unsafe fn read(v: *const u8) -> Self {
        if v.is_null() {
            return FieldValue::Missing;
        }
        // SAFETY: as documented: tag at 0, payload at FIELD_VALUE_PAYLOAD.
        unsafe {
            let payload = v.add(FIELD_VALUE_PAYLOAD);
            let string = || {
                let s = str_of(payload);
                FieldValue::Text(s.as_ptr(), s.len())
            };
            match *v {
                0 | 3 | 6 => string(),
                1 => FieldValue::Integer(*(payload as *const i64)),
                5 => FieldValue::Checkbox(*payload != 0),
                7 => FieldValue::Choices(
                    *(payload as *const u32) as usize as *const u8,
                    *(payload.add(4) as *const u32) as usize,
                ),
                _ => FieldValue::Other,
            }
        }
    }

    /// The one text form of a value that has exactly one; integers are
    /// written into `buf`.
    pub fn single_text<'b>(&self, buf: &'b mut [u8; INT_TEXT_MAX]) -> Option<&'b [u8]> {
        match *self {
            // SAFETY: read from a lowered string.
            FieldValue::Text(p, l) => Some(unsafe { bytes(p, l) }),
            FieldValue::Integer(i) => {
                let at = write_i64(i, buf);
                buf.get(at..)
            }
            FieldValue::Checkbox(b) => Some(if b { b"true" } else { b"false" }),
            FieldValue::Missing | FieldValue::Choices(..) | FieldValue::Other => None,
        }
    }
}

/// The first (or, with `last`, the last) position of `needle` in `hay`; an
/// empty needle is found at the start (or the end).
pub fn find(hay: &[u8], needle: &[u8], last: bool) -> Option<usize> {
    let span = hay.len().checked_sub(needle.len())?;
    let at = |i: usize| hay.get(i..i + needle.len()) == Some(needle);
    if last {
        (0..=span).rev().find(|&i| at(i))
    } else {
        (0..=span).find(|&i| at(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_first_and_last() {
        assert_eq!(find(b"a/b/c", b"/", false), Some(1));
        assert_eq!(find(b"a/b/c", b"/", true), Some(3));
        assert_eq!(find(b"abc", b"", false), Some(0));
        assert_eq!(find(b"abc", b"", true), Some(3));
        assert_eq!(find(b"ab", b"abc", false), None);
        assert_eq!(find(b"abc", b"x", true), None);
    }

    #[test]
    fn text_forms() {
        let mut buf = [0; INT_TEXT_MAX];
        assert_eq!(
            FieldValue::Integer(-7).single_text(&mut buf),
            Some(&b"-7"[..])
        );
        let mut buf = [0; INT_TEXT_MAX];
        assert_eq!(
            FieldValue::Checkbox(true).single_text(&mut buf),
            Some(&b"true"[..])
        );
        // SAFETY: null is the missing value.
        assert!(matches!(
            unsafe { FieldValue::read(core::ptr::null()) },
            FieldValue::Missing
        ));
    }
}
