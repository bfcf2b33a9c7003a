//! otuf-core's state as laid out on this target (`size_of`), printed for footprint.py: a
//! measurement of its own, so the measured firmware carries none of it.
#![no_std]
#![no_main]

use otuf_core::footprint as state;
use otuf_cortex_m4::board::{exit, say, say_number};

#[cortex_m_rt::entry]
fn main() -> ! {
    let n = |n: usize| say_number(n as u32);
    say(&["verdict: state sizes\nstate: client "]);
    n(state::CLIENT);
    say(&[" bytes, search "]);
    n(state::SEARCH);
    say(&[", delegations being read "]);
    n(state::MATCHES);
    say(&[", streaming verification "]);
    n(state::STREAM_LEXER + state::VERIFIERS);
    say(&[" (tokenizer "]);
    n(state::STREAM_LEXER);
    say(&[", signature checks "]);
    n(state::VERIFIERS);
    say(&[")\n"]);
    exit(true)
}
