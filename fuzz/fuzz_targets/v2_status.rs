//! Fuzz target: `panelwatch::fuzzing::v2_status` (see src/fuzzing.rs for what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    panelwatch::fuzzing::v2_status(data);
});
