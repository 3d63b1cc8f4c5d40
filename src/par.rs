//! Data parallelism for the stages that work item by item (files in
//! reading, parsing, name resolution and writing; statements in checking;
//! namespaces in deny compilation; objects in emission), with the standard
//! library only.
//! Input: a slice and a function. Output: the results in input order, so
//! parallel runs stay byte-identical to sequential ones.

/// Below this many items the work runs on the calling thread.
const MIN_PARALLEL: usize = 64;

/// Maps `f` over `items` on up to `available_parallelism` threads, keeping
/// the order of `items`.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    map_chunks(items, |chunk| chunk.iter().map(&f).collect())
}

/// Runs `f` on contiguous chunks of `items` in parallel and concatenates the
/// results in order.
pub fn map_chunks<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> Vec<R> + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    if threads < 2 || items.len() < MIN_PARALLEL {
        return f(items);
    }
    let size = items.len().div_ceil(threads);
    let mut chunks = items.chunks(size);
    let first = chunks.next().unwrap_or(&[]);
    std::thread::scope(|s| {
        // the calling thread takes the first chunk itself: one thread fewer
        // to start, and its allocator heap, warm from earlier stages, is
        // reused instead of new memory being touched
        let handles: Vec<_> = chunks.map(|c| s.spawn(|| f(c))).collect();
        let mut out = f(first);
        out.reserve(items.len().saturating_sub(out.len()));
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part),
                // a panic in a worker is a bug: let it surface unchanged
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order() {
        let v: Vec<u32> = (0..1000).collect();
        assert_eq!(
            super::map(&v, |x| x * 2),
            v.iter().map(|x| x * 2).collect::<Vec<_>>()
        );
    }
}
