//! Any text through the whole validation pipeline must come back as findings, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshctl::policy::{self, Options, Source};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let source = Source { name: "fuzz.yaml".into(), text: text.to_string() };
        let _ = policy::check(&[source], &Options::default());
    }
});
