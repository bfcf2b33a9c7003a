#![no_main]
// Every role's parser (root, timestamp, snapshot, targets with delegations) in both modes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| otuf_core::fuzzing::metadata(data));
