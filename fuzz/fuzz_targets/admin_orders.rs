//! Fuzz target: `panelwatch::fuzzing::admin_orders` (see src/fuzzing.rs for what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    panelwatch::fuzzing::admin_orders(data);
});
