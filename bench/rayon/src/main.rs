//! Rayon `join` on W2 (fib 30) and W3 (tree 20), every call forks, no cutoff: the same shapes as
//! bench/join_bench.cpp. Prints the median of the repetitions per thread count and the ratio to serial fib.
use std::time::Instant;

fn serial_fib(n: u64) -> u64 {
    if n < 2 { n } else { serial_fib(n - 1) + serial_fib(n - 2) }
}

fn join_fib(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (left, right) = rayon::join(|| join_fib(n - 1), || join_fib(n - 2));
    left + right
}

fn join_tree(depth: u32) -> u64 {
    if depth == 0 {
        return 1;
    }
    let (left, right) = rayon::join(|| join_tree(depth - 1), || join_tree(depth - 1));
    left + right + 1
}

fn median_ms<F: FnMut() -> u64>(repetitions: usize, expected: u64, mut run: F) -> f64 {
    let mut times: Vec<f64> = (0..repetitions)
        .map(|_| {
            let start = Instant::now();
            let result = std::hint::black_box(run());
            assert_eq!(result, expected);
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    times[times.len() / 2]
}

fn main() {
    let repetitions = 21;
    let fib_n = 30;
    let tree_depth = 20;
    let expected_fib = serial_fib(fib_n);
    let serial = median_ms(repetitions, expected_fib, || serial_fib(std::hint::black_box(fib_n)));
    println!("W2_fib30/serial            median {:8.3} ms", serial);
    let max_threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut threads = 1;
    while threads <= max_threads {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let fib = pool.install(|| median_ms(repetitions, expected_fib, || join_fib(fib_n)));
        let tree = pool.install(|| median_ms(repetitions, (2u64 << tree_depth) - 1, || join_tree(tree_depth)));
        println!("W2_join_fib30/rayon/{:<2}    median {:8.3} ms   {:5.2} x serial", threads, fib, fib / serial);
        println!("W3_join_tree20/rayon/{:<2}   median {:8.3} ms", threads, tree);
        threads *= 2;
    }
}
