//! What the board gives the example: the flash slot, a console and an exit code (semihosting,
//! which QEMU forwards to the host), and the stack's high-water mark.

use crate::slot::Slot;

extern "C" {
    static _slot_start: u8;
    static _slot_length: u8;
    static _stack_end: u32;
    static _stack_start: u32;
}

/// The flash slot at 0x0020_0000 (memory.x), which QEMU's loader fills as a programmer or the
/// network stack would.
pub fn slot() -> Slot {
    // SAFETY: the linker script reserves this region for the slot and nothing else writes it;
    // its length is the address of `_slot_length`.
    let bytes = unsafe {
        let start = core::ptr::addr_of!(_slot_start);
        let len = core::ptr::addr_of!(_slot_length) as usize;
        core::slice::from_raw_parts(start, len)
    };
    Slot::new(bytes)
}

/// Bytes of stack ever used: cortex-m-rt painted the stack with 0xCCCC_CCCC at reset, and the
/// deepest word no longer painted is the high-water mark.
pub fn stack_high_water() -> usize {
    // SAFETY: `_stack_end..._stack_start` is the stack region cortex-m-rt painted; reading it
    // word by word from the far end never touches a live frame's bytes mutably.
    unsafe {
        let end = core::ptr::addr_of!(_stack_end);
        let start = core::ptr::addr_of!(_stack_start);
        let mut p = end;
        while p < start && core::ptr::read_volatile(p) == cortex_m_rt::STACK_PAINT_VALUE {
            p = p.add(1);
        }
        start as usize - p as usize
    }
}

/// Paints the unused stack again (everything below the caller's frame, less a margin for this
/// function's own), so the next high-water mark measures only what runs after it.
#[inline(never)]
pub fn repaint_stack() {
    // SAFETY: only words between `_stack_end` and 256 bytes below the current stack pointer are
    // written: stack no live frame uses, since the stack grows down.
    unsafe {
        let mut p = core::ptr::addr_of!(_stack_end) as *mut u32;
        let limit = (cortex_m::register::msp::read() as usize).saturating_sub(256) as *mut u32;
        while p < limit {
            core::ptr::write_volatile(p, cortex_m_rt::STACK_PAINT_VALUE);
            p = p.add(1);
        }
    }
}

/// Ends the program with a verdict QEMU turns into its exit status.
pub fn exit(success: bool) -> ! {
    use cortex_m_semihosting::debug;
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

/// Writes strings to the console (semihosting), without `core::fmt`.
pub fn say(parts: &[&str]) {
    if let Ok(mut out) = cortex_m_semihosting::hio::hstdout() {
        for p in parts {
            let _ = out.write_all(p.as_bytes());
        }
    }
}

/// Writes a number to the console in decimal (32-bit division only: no `core::fmt`).
pub fn say_number(n: u32) {
    otuf_core::error::write_u32(n, &mut |digits| say(&[digits]));
}

/// Writes otuf-core's error (what its `Display` says: the role, the check, the field, the byte).
pub fn say_error(e: &otuf_core::Error) {
    e.write_parts(&mut |part| say(&[part]));
}
