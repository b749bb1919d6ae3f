//! What needs no mesh: `validate`, `generate` and the files generated from the CLI, the
//! translator's output (checked by real Envoy's `--mode validate`), malformed input that must
//! never panic, the docs' examples, and the modules' layering.

mod common;
#[path = "offline/docs.rs"]
mod docs;
#[path = "offline/generate.rs"]
mod generate;
#[path = "offline/layers.rs"]
mod layers;
#[path = "offline/robustness.rs"]
mod robustness;
#[path = "offline/translate.rs"]
mod translate;
#[path = "offline/validate.rs"]
mod validate;
