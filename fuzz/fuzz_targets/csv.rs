//! Fuzz target: `panelwatch::fuzzing::csv` (see src/fuzzing.rs for what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    panelwatch::fuzzing::csv(data);
});
