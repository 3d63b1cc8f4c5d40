//! The population loader (`--pods FILE`) on arbitrary YAML text: a
//! population or an error, never a panic; a population keeps the
//! invariants its type documents.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(p) = nplc::population::load_population(&text) {
        // every pod's namespace is present
        for pod in &p.pods {
            assert!(
                p.namespaces.contains_key(&pod.namespace),
                "{}",
                pod.namespace
            );
        }
        // pods sorted by (namespace, name), each once
        for w in p.pods.windows(2) {
            assert!(
                (&w[0].namespace, &w[0].name) < (&w[1].namespace, &w[1].name),
                "{}/{} then {}/{}",
                w[0].namespace,
                w[0].name,
                w[1].namespace,
                w[1].name
            );
        }
        for (i, pod) in p.pods.iter().enumerate() {
            assert_eq!(p.pod_index(&pod.namespace, &pod.name), Some(i));
        }
    }
});
