//! Streaming mode: every file reaches otuf-core in 61-byte packets through a 256-byte chunk
//! buffer; nothing is held whole.
#![no_std]
#![no_main]

use otuf_cortex_m4::check::Streamed;

/// The I/O buffer; the footprint report counts RAM beyond it.
pub const CHUNK: usize = 256;

#[cortex_m_rt::entry]
fn main() -> ! {
    let mut chunk = [0u8; CHUNK];
    otuf_cortex_m4::run_device("streaming", &mut Streamed { chunk: &mut chunk })
}
