//! # docket-nocode-runtime
//!
//! The helpers the no-code compiler's emitted code calls: allocation, text
//! comparison and slicing, number and money formatting, rounding, local
//! time, pattern (DFA) matching, field-value text forms and checked
//! arithmetic. Written once, here, in Rust; the primitives a form validator
//! or a billing rule shares with the SDK come from `docket-guest-core`, so a
//! no-code rule and its hand-written twin compute the same way.
//!
//! Built for `wasm32-unknown-unknown` as a core module (see `build.rs` of
//! `docket-guests`, which rebuilds it, and `docket-nocode`'s
//! `src/emit/runtime.wasm`, the committed copy the compiler merges into
//! every module it emits). The ABI is the emitted code's: every function is
//! `extern "C"` over `i32` addresses and `i64` values, and functions that
//! give text back return `ptr | len << 32` ([`Text`]), which the compiler
//! unpacks.
//!
//! Memory layout contract with the compiler: the compiler places its static
//! data after this module's own (at `__heap_base`) and writes the first free
//! address into [`DOCKET_RT_HEAP`] with a data segment, so the bump
//! allocator starts past both. The host runs every call in a fresh
//! instance, so nothing is ever freed.
#![cfg_attr(target_arch = "wasm32", no_std)]

mod text;

use core::sync::atomic::{AtomicUsize, Ordering};
use docket_guest_core::money::{Rounding, div_round};
use docket_guest_core::text::{
    INT_TEXT_MAX, MONEY_TEXT_MAX, char_count, is_blank, is_iso_date, write_i64, write_money,
};
use docket_guest_core::time::local_hour_and_weekday;
use text::{Text, bytes, find, pair, str_of};

/// The next free address of the bump allocator. The compiler initializes it
/// (a data segment at this static's address) to the end of its static data.
#[unsafe(no_mangle)]
pub static DOCKET_RT_HEAP: AtomicUsize = AtomicUsize::new(0);

const PAGE: usize = 65_536;

#[cfg(target_arch = "wasm32")]
mod platform {
    #[link(wasm_import_module = "docket:plugin/log@0.1.0")]
    unsafe extern "C" {
        /// The contract's `log.panicking`: tells the host why the next trap
        /// happens.
        #[link_name = "panicking"]
        fn panicking(ptr: *const u8, len: usize);
    }

    /// Reports `message` to the host and traps.
    pub fn fail(message: &[u8]) -> ! {
        // SAFETY: the host reads `len` bytes at `ptr`, which `message` holds.
        unsafe { panicking(message.as_ptr(), message.len()) };
        core::arch::wasm32::unreachable()
    }

    /// Bytes of linear memory.
    pub fn memory_bytes() -> usize {
        core::arch::wasm32::memory_size(0) * super::PAGE
    }

    /// Grows memory by `pages`; false when the host refuses.
    pub fn grow(pages: usize) -> bool {
        core::arch::wasm32::memory_grow(0, pages) != usize::MAX
    }

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo) -> ! {
        core::arch::wasm32::unreachable()
    }
}

/// Off wasm the helpers only compile (for checks and unit tests of the
/// safe parts); there is no linear memory to manage.
#[cfg(not(target_arch = "wasm32"))]
mod platform {
    pub fn fail(message: &[u8]) -> ! {
        panic!("{}", String::from_utf8_lossy(message))
    }
    pub fn memory_bytes() -> usize {
        usize::MAX
    }
    pub fn grow(_pages: usize) -> bool {
        false
    }
}

use platform::fail;

/// `(size, align) -> ptr`: bump allocation, growing memory when the
/// initial pages run out; traps when the host's memory cap refuses.
#[unsafe(no_mangle)]
pub extern "C" fn docket_rt_alloc(size: usize, align: usize) -> *mut u8 {
    let next = DOCKET_RT_HEAP.load(Ordering::Relaxed);
    let align = align.max(1);
    let start = (next + align - 1) & !(align - 1);
    let Some(stop) = start.checked_add(size) else {
        fail(b"out of memory: an allocation does not fit in 4 GiB")
    };
    let end = platform::memory_bytes();
    if stop > end && !platform::grow((stop - end).div_ceil(PAGE)) {
        fail(b"out of memory: the plugin's memory limit is reached")
    }
    DOCKET_RT_HEAP.store(stop, Ordering::Relaxed);
    start as *mut u8
}

/// The canonical ABI's `cabi_realloc(old, old_size, align, new_size)`:
/// a fresh allocation with the old bytes copied (nothing is freed).
///
/// # Safety
/// `old` is null or addresses `old_size` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn docket_rt_realloc(
    old: *const u8,
    old_size: usize,
    align: usize,
    new_size: usize,
) -> *mut u8 {
    let new = docket_rt_alloc(new_size, align);
    if !old.is_null() {
        // SAFETY: as documented; the new block is fresh, so no overlap.
        unsafe { core::ptr::copy_nonoverlapping(old, new, old_size.min(new_size)) };
    }
    new
}

/// Copies `parts` into one fresh allocation.
fn concat(parts: &[&[u8]]) -> Text {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let out = docket_rt_alloc(len, 1);
    let mut at = out;
    for p in parts {
        // SAFETY: `out` has `len` fresh bytes, filled part after part.
        unsafe {
            core::ptr::copy_nonoverlapping(p.as_ptr(), at, p.len());
            at = at.add(p.len());
        }
    }
    pair(out, len)
}

/// `(p1, l1, p2, l2) -> bool`: the texts are equal.
///
/// # Safety
/// Each `(p, l)` addresses `l` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn docket_rt_str_eq(
    p1: *const u8,
    l1: usize,
    p2: *const u8,
    l2: usize,
) -> u32 {
    // SAFETY: as documented.
    unsafe { (bytes(p1, l1) == bytes(p2, l2)).into() }
}

/// `(p1, l1, p2, l2) -> bool`: the first text starts with the second.
///
/// # Safety
/// As [`docket_rt_str_eq`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn docket_rt_starts_with(
    p1: *const u8,
    l1: usize,
    p2: *const u8,
    l2: usize,
) -> u32 {
    // SAFETY: as documented.
    unsafe { bytes(p1, l1).starts_with(bytes(p2, l2)).into() }
}

/// `(p1, l1, p2, l2) -> bool`: the first text ends with the second.
///
/// # Safety
/// As [`docket_rt_str_eq`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn docket_rt_ends_with(
    p1: *const u8,
    l1: usize,
    p2: *const u8,
    l2: usize,
) -> u32 {
    // SAFETY: as documented.
    unsafe { bytes(p1, l1).ends_with(bytes(p2, l2)).into() }
}

/// `(p1, l1, p2, l2) -> bool`: the second text occurs in the first.
///
/// # Safety
/// As [`docket_rt_str_eq`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn docket_rt_contains(
    p1: *const u8,
    l1: usize,
    p2: *const u8,
    l2: usize,
) -> u32 {
    // SAFETY: as documented.
    unsafe { find(bytes(p1, l1), bytes(p2, l2), false).is_some().into() }
}

/// `(text, prefix) -> text`: the text without the prefix, if it has it.
///
/// # Safety
/// As [`docket_rt_str_eq`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn docket_rt_strip_prefix(
    p: *const u8,
    l: usize,
    sp: *const u8,
    sl: usize,
) -> Text {
    // SAFETY: as documented.
    let has = unsafe { bytes(p, l).starts_with(bytes(sp, sl)) };
    if has {
        // SAFETY: the prefix is `sl` of the text's `l` bytes.
        pair(unsafe { p.add(sl) }, l - sl)
    } else {
        pair(p, l)
    }
}

/// `(text, separator) -> text`: what precedes the separator's last
/// occurrence, or the whole text.
///
/// # Safety
/// As [`docket_rt_str_eq`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn docket_rt_before_last(
    p: *const u8,
    l: usize,
    sp: *const u8,
    sl: usize,
) -> Text {
    // SAFETY: as documented.
    match unsafe { find(bytes(p, l), bytes(sp, sl), true) } {
        Some(i) => pair(p, i),
        None => pair(p, l),
    }
}

/// `(text, separator) -> text`: what follows the separator's last
/// occurrence, or nothing.
///
/// # Safety
/// As [`docket_rt_str_eq`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn docket_rt_after_last(
    p: *const u8,
    l: usize,
    sp: *const u8,
    sl: usize,
) -> Text {
    // SAFETY: as documented.
    match unsafe { find(bytes(p, l), bytes(sp, sl), true) } {
        // SAFETY: `i + sl <= l`: the separator lies inside the text.
        Some(i) => pair(unsafe { p.add(i + sl) }, l - i - sl),
        None => pair(p, 0),
    }
}

/// `(list, len, key p, key l, element size) -> element or 0`: the first
/// element of a list of records whose first field (a string) is the key.
///
/// # Safety
/// `list` addresses `len` elements of `size` bytes, each starting with a
/// `(ptr, len)` string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn docket_rt_find_by_key(
    list: *const u8,
    len: usize,
    kp: *const u8,
    kl: usize,
    size: usize,
) -> *const u8 {
    // SAFETY: as documented.
    let key = unsafe { bytes(kp, kl) };
    for i in 0..len {
        // SAFETY: element `i` of the list; its first field is a string.
        unsafe {
            let element = list.add(i * size);
            if str_of(element) == key {
                return element;
            }
        }
    }
    core::ptr::null()
}

/// `(list, len, p, l) -> bool`: a list of strings holds the text.
///
/// # Safety
/// `list` addresses `len` `(ptr, len)` strings; `(p, l)` as
/// [`docket_rt_str_eq`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn docket_rt_list_has(
    list: *const u8,
    len: usize,
    p: *const u8,
    l: usize,
) -> u32 {
    // SAFETY: as documented; a string is 8 bytes.
    unsafe { (!docket_rt_find_by_key(list, len, p, l, 8).is_null()).into() }
}

/// `(v) -> text`: an integer in decimal.
#[unsafe(no_mangle)]
pub extern "C" fn docket_rt_format_int(v: i64) -> Text {
    let mut buf = [0; INT_TEXT_MAX];
    let at = write_i64(v, &mut buf);
    concat(&[buf.get(at..).unwrap_or_default()])
}

/// `(amount minor, currency p, l) -> text`: money as `-12.50 EUR`.
///
/// # Safety
/// `(cp, cl)` as [`docket_rt_str_eq`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn docket_rt_format_money(amount: i64, cp: *const u8, cl: usize) -> Text {
    let mut buf = [0; MONEY_TEXT_MAX];
    let at = write_money(amount, &mut buf);
    // SAFETY: as documented.
    concat(&[buf.get(at..).unwrap_or_default(), unsafe { bytes(cp, cl) }])
}

/// `(num, den, rounding code) -> i64`: `num / den` rounded (codes as
/// [`Rounding`]'s discriminants), computed exactly; traps with a message
/// on a zero divisor.
#[unsafe(no_mangle)]
pub extern "C" fn docket_rt_div_round(num: i64, den: i64, rounding: u32) -> i64 {
    if den == 0 {
        fail(b"division by zero")
    }
    let Some(rounding) = Rounding::from_code(rounding) else {
        fail(b"unknown rounding code")
    };
    // `i64::MIN / -1` is the one quotient out of range; it wraps, as the
    // machine's division does.
    div_round(num.into(), den.into(), rounding) as i64
}

/// `(instant, offset minutes, weekday?) -> i64`: the local hour (0..24)
/// or, when asked, the ISO weekday (1 = Monday .. 7 = Sunday).
#[unsafe(no_mangle)]
pub extern "C" fn docket_rt_local_time(instant: i64, offset_minutes: i64, weekday: u32) -> i64 {
    let (hour, day) = local_hour_and_weekday(instant, offset_minutes);
    i64::from(if weekday != 0 { day } else { hour })
}

/// DFA state flags, one byte per state.
const DFA_MATCH: u8 = 1;
const DFA_ACCEPTS_AT_END: u8 = 2;
const DFA_DEAD: u8 = 4;

/// `(next, flags, search?, p, l) -> bool`: runs a DFA over the text.
/// `next[(state << 8) + byte]` is the next state; `flags[state]` says
/// whether it matched (a search stops at the first match), is dead, or
/// accepts at the end of the text. State 0 starts.
///
/// # Safety
/// `next` and `flags` are the compiler's tables for one pattern; `(p, l)`
/// as [`docket_rt_str_eq`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn docket_rt_dfa_run(
    next: *const u16,
    flags: *const u8,
    search: u32,
    p: *const u8,
    l: usize,
) -> u32 {
    let mut state = 0usize;
    // SAFETY: as documented: the tables cover every state and byte.
    unsafe {
        for &b in bytes(p, l) {
            state = usize::from(*next.add((state << 8) + usize::from(b)));
            let f = *flags.add(state);
            if search != 0 && f & DFA_MATCH != 0 {
                return 1;
            }
            if f & DFA_DEAD != 0 {
                return 0;
            }
        }
        (*flags.add(state) & DFA_ACCEPTS_AT_END != 0).into()
    }
}

/// `(p, l) -> i64`: characters in the text.
///
/// # Safety
/// `(p, l)` addresses valid UTF-8 (the canonical ABI lifts only valid
/// strings; static texts are Rust strings).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn docket_rt_char_count(p: *const u8, l: usize) -> i64 {
    // SAFETY: as documented.
    char_count(unsafe { text::utf8(p, l) }) as i64
}

/// `(p, l) -> bool`: the text is a valid `YYYY-MM-DD` date.
///
/// # Safety
/// As [`docket_rt_char_count`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn docket_rt_is_iso_date(p: *const u8, l: usize) -> u32 {
    // SAFETY: as documented.
    is_iso_date(unsafe { text::utf8(p, l) }).into()
}

/// `(field-value or 0, p, l) -> bool`: one of the value's text forms is the
/// text (see [`text::FieldValue`]).
///
/// # Safety
/// `v` is null or a lowered `field-value`; `(p, l)` as
/// [`docket_rt_str_eq`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn docket_rt_value_has(v: *const u8, p: *const u8, l: usize) -> u32 {
    // SAFETY: as documented.
    let (value, wanted) = unsafe { (text::FieldValue::read(v), bytes(p, l)) };
    let mut buf = [0; INT_TEXT_MAX];
    let found = match value {
        text::FieldValue::Choices(list, len) => {
            // SAFETY: a lowered list of strings.
            return unsafe { docket_rt_list_has(list, len, p, l) };
        }
        other => other.single_text(&mut buf) == Some(wanted),
    };
    found.into()
}

/// `(field-value or 0) -> bool`: the value is set and not empty, as the
/// SDK's `FieldValue::is_empty` has it: blank text (text, date, choice)
/// and an empty list of choices are empty, every other value is present.
///
/// # Safety
/// `v` is null or a lowered `field-value`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn docket_rt_value_present(v: *const u8) -> u32 {
    // SAFETY: as documented.
    let present = match unsafe { text::FieldValue::read(v) } {
        text::FieldValue::Missing => false,
        // SAFETY: a lowered string: valid UTF-8.
        text::FieldValue::Text(p, l) => !is_blank(unsafe { text::utf8(p, l) }),
        text::FieldValue::Choices(_, len) => len != 0,
        _ => true,
    };
    present.into()
}

/// `(field-value or 0) -> text`: the value's text forms joined with ", "
/// (nothing for a missing value or one without text forms).
///
/// # Safety
/// `v` is null or a lowered `field-value`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn docket_rt_value_join(v: *const u8) -> Text {
    // SAFETY: as documented.
    let value = unsafe { text::FieldValue::read(v) };
    let mut buf = [0; INT_TEXT_MAX];
    match value {
        text::FieldValue::Choices(list, len) => {
            // SAFETY: a lowered list of `len` strings.
            let items = (0..len).map(|i| unsafe { str_of(list.add(i * 8)) });
            let size: usize = items.clone().map(|s| s.len() + 2).sum::<usize>();
            let size = size.saturating_sub(2);
            let out = docket_rt_alloc(size, 1);
            let mut at = out;
            for (i, item) in items.enumerate() {
                let sep: &[u8] = if i == 0 { b"" } else { b", " };
                for part in [sep, item] {
                    // SAFETY: `out` has `size` fresh bytes: the items and
                    // the separators between them.
                    unsafe {
                        core::ptr::copy_nonoverlapping(part.as_ptr(), at, part.len());
                        at = at.add(part.len());
                    }
                }
            }
            pair(out, size)
        }
        text::FieldValue::Text(p, l) => pair(p, l),
        other => match other.single_text(&mut buf) {
            Some(t) => concat(&[t]),
            None => pair(core::ptr::null(), 0),
        },
    }
}

/// `(a, b, message p, l) -> i64`: `a + b`, or a trap reporting the message
/// (which says what overflowed, and where in the document).
///
/// # Safety
/// `(mp, ml)` as [`docket_rt_str_eq`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn docket_rt_checked_add(a: i64, b: i64, mp: *const u8, ml: usize) -> i64 {
    // SAFETY: as documented.
    a.checked_add(b)
        .unwrap_or_else(|| fail(unsafe { bytes(mp, ml) }))
}

/// `(a, b, message p, l) -> i64`: `a - b`, checked as
/// [`docket_rt_checked_add`].
///
/// # Safety
/// As [`docket_rt_checked_add`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn docket_rt_checked_sub(a: i64, b: i64, mp: *const u8, ml: usize) -> i64 {
    // SAFETY: as documented.
    a.checked_sub(b)
        .unwrap_or_else(|| fail(unsafe { bytes(mp, ml) }))
}

/// `(a, b, message p, l) -> i64`: `a * b`, checked as
/// [`docket_rt_checked_add`].
///
/// # Safety
/// As [`docket_rt_checked_add`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn docket_rt_checked_mul(a: i64, b: i64, mp: *const u8, ml: usize) -> i64 {
    // SAFETY: as documented.
    a.checked_mul(b)
        .unwrap_or_else(|| fail(unsafe { bytes(mp, ml) }))
}
