//! The whole build in memory on grammar-shaped programs (the generator in
//! `fuzz/src/lib.rs`): `compile_inputs`, then every manifest's YAML, the
//! firewall's files and the diagnostics rendered. A program without errors
//! must have its IR and policies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nplc::diag;
use nplc::driver::{compile_inputs, Input};
use nplc_fuzz::Generated;

fuzz_target!(|g: Generated| {
    let inputs: Vec<Input> =
        g.0.render()
            .into_iter()
            .map(|(name, text)| Input { name, text })
            .collect();
    let c = compile_inputs(&inputs);
    let _ = diag::render_human(&c.sources, &c.diagnostics);
    if c.has_errors() {
        return;
    }
    assert!(
        c.program.is_some() && c.policies.is_some(),
        "no error, no result"
    );
    for m in &c.manifests {
        let yaml = m.to_yaml();
        assert!(yaml.contains("kind: NetworkPolicy"), "{yaml}");
    }
    if let Some(fw) = &c.firewall {
        for f in nplc::firewall::emit::files(fw) {
            let _ = f;
        }
    }
});
