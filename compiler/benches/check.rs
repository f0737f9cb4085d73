//! `check` over generated specs of 1,000 / 10,000 / 100,000 mappings.
//! Target: 10,000 mappings under 100 ms on 2 cores; 10x the mappings at most 12x the time.
//! Run: `cargo bench -p seam-compiler --bench check`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn bench_check(c: &mut Criterion) {
    let mut group = c.benchmark_group("check");
    group.sample_size(10);
    for n in [1_000usize, 10_000, 100_000] {
        let spec = seam_compiler::synthetic::spec(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &spec, |b, spec| {
            b.iter(|| {
                let checked = seam_compiler::check(spec);
                assert!(!checked.has_errors(), "the generated spec must be clean");
                checked
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_check);
criterion_main!(benches);
