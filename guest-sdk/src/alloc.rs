//! A bump allocator for plugins. The host runs every call in a fresh
//! instance, so nothing needs freeing: allocation is a pointer bump through
//! the free part of the initial linear memory, and `memory.grow` (which costs
//! the host page-table changes on every call) happens only when a call needs
//! more than that. Enabled by the default `bump-alloc` feature on wasm32;
//! turn the feature off to bring your own global allocator.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;

/// The allocator. Single-threaded: wasm32 plugins have one thread.
pub struct BumpAlloc {
    next: Cell<usize>,
    end: Cell<usize>,
}

// SAFETY: plugins run single-threaded (wasm32 without threads).
unsafe impl Sync for BumpAlloc {}

impl BumpAlloc {
    /// An allocator that starts at the heap base on first use.
    pub const fn new() -> BumpAlloc {
        BumpAlloc {
            next: Cell::new(0),
            end: Cell::new(0),
        }
    }
}

impl Default for BumpAlloc {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(target_arch = "wasm32")]
unsafe extern "C" {
    static __heap_base: u8;
}

const PAGE: usize = 65_536;

#[cfg(target_arch = "wasm32")]
fn region() -> (usize, usize) {
    // SAFETY: `__heap_base` is defined by the linker; only its address is used.
    let base = unsafe { core::ptr::addr_of!(__heap_base) as usize };
    (base, core::arch::wasm32::memory_size(0) * PAGE)
}

#[cfg(target_arch = "wasm32")]
fn grow(pages: usize) -> bool {
    core::arch::wasm32::memory_grow(0, pages) != usize::MAX
}

#[cfg(not(target_arch = "wasm32"))]
fn region() -> (usize, usize) {
    (0, 0)
}

#[cfg(not(target_arch = "wasm32"))]
fn grow(_pages: usize) -> bool {
    false
}

unsafe impl GlobalAlloc for BumpAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if self.end.get() == 0 {
            let (base, end) = region();
            self.next.set(base);
            self.end.set(end);
        }
        let start = (self.next.get() + layout.align() - 1) & !(layout.align() - 1);
        let Some(stop) = start.checked_add(layout.size()) else {
            return core::ptr::null_mut();
        };
        if stop > self.end.get() {
            let pages = (stop - self.end.get()).div_ceil(PAGE);
            if !grow(pages) {
                return core::ptr::null_mut();
            }
            self.end.set(self.end.get() + pages * PAGE);
        }
        self.next.set(stop);
        start as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Give back the most recent allocation (common for temporaries).
        if ptr as usize + layout.size() == self.next.get() {
            self.next.set(ptr as usize);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Grow in place when this is the most recent allocation.
        if ptr as usize + layout.size() == self.next.get() {
            let stop = ptr as usize + new_size;
            if stop <= self.end.get() {
                self.next.set(stop);
                return ptr;
            }
        }
        // SAFETY: as `GlobalAlloc::realloc`'s default.
        unsafe {
            let new = self.alloc(Layout::from_size_align_unchecked(new_size, layout.align()));
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}
