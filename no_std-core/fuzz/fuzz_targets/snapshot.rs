#![no_main]
// The snapshot parser in general and streaming mode: no panic, and streaming never accepts what
// general mode refuses.
libfuzzer_sys::fuzz_target!(|data: &[u8]| otuf_core::fuzzing::snapshot(data));
