//! Replays the fuzz corpus on stable Rust, and runs a short seeded mutation pass over it.
//!
//! `fuzz/corpus/<target>/` holds the seed inputs and the interesting inputs kept from fuzzing
//! runs; `fuzz/regressions/<target>/` holds inputs that once crashed a target. Each is fed to
//! the same entry point the libFuzzer target calls (`panelwatch::fuzzing`), so a regression
//! fails `cargo test` without a nightly compiler. The mutation pass (bit flips, insertions,
//! deletions, splices; a fixed seed, so it is deterministic) is no substitute for
//! `cargo fuzz run`, only a cheap guard that runs everywhere.

use std::path::Path;

fn inputs(folder: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz"))
}

#[test]
fn every_kept_input_replays_without_a_panic() {
    for (name, target) in panelwatch::fuzzing::TARGETS {
        let corpus = inputs(&root().join("corpus").join(name));
        assert!(!corpus.is_empty(), "no corpus for {name}");
        for input in corpus
            .iter()
            .chain(&inputs(&root().join("regressions").join(name)))
        {
            target(input);
        }
    }
}

/// xorshift64*: small, seeded, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(6) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(out.len() + 1);
                let byte = b"{}[]\",:0123456789.-eE \\nulltrue"[rng.below(31)];
                out.insert(i, byte);
            }
            2 if !out.is_empty() => {
                let i = rng.below(out.len());
                let n = rng.below(8).min(out.len() - i);
                out.drain(i..i + n);
            }
            3 if !other.is_empty() => {
                let i = rng.below(out.len() + 1);
                let j = rng.below(other.len());
                let n = rng.below(32).min(other.len() - j);
                out.splice(i..i, other[j..j + n].iter().copied());
            }
            4 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = rng.next() as u8;
            }
            _ => out.truncate(rng.below(out.len() + 1)),
        }
    }
    out
}

#[test]
fn a_seeded_mutation_pass_finds_no_panic() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    for (name, target) in panelwatch::fuzzing::TARGETS {
        let corpus = inputs(&root().join("corpus").join(name));
        let rounds = if name == "config" { 300 } else { 2000 };
        for _ in 0..rounds {
            let input = &corpus[rng.below(corpus.len())];
            let other = &corpus[rng.below(corpus.len())];
            let mutated = mutate(&mut rng, input, other);
            target(&mutated);
        }
    }
}
