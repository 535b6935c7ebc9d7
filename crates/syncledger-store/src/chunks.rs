//! Splitting multi-row statements into a few fixed sizes.
//!
//! A batch can touch any number of rows, and every distinct row count of a multi-row statement
//! (`VALUES (..), (..)` or `IN (..)`) is a distinct statement for the connection to parse, plan
//! and cache. Statement caches are small (sqlx keeps 100 per connection), so with arbitrary
//! sizes the busiest statements keep falling out and being prepared again. Chunks whose sizes
//! are powers of two (512, 256, ..., 1) let a handful of prepared statements serve every batch.

/// The largest chunk: 512 rows of up to 10 bind parameters stay far below both backends'
/// limits (32,766 on SQLite, 65,535 on PostgreSQL).
pub(crate) const MAX_CHUNK: usize = 512;

/// `items` in order, in chunks whose sizes are powers of two, largest first, at most
/// [`MAX_CHUNK`].
pub(crate) fn pow2_chunks<T>(mut items: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if items.is_empty() {
            return None;
        }
        let size = MAX_CHUNK.min(1 << items.len().ilog2());
        let (chunk, rest) = items.split_at(size);
        items = rest;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunks_are_powers_of_two_and_cover_everything_in_order() {
        for n in [0usize, 1, 2, 3, 100, 511, 512, 513, 1000, 2049] {
            let items: Vec<usize> = (0..n).collect();
            let chunks: Vec<&[usize]> = super::pow2_chunks(&items).collect();
            assert!(
                chunks
                    .iter()
                    .all(|c| c.len().is_power_of_two() && c.len() <= super::MAX_CHUNK)
            );
            assert_eq!(chunks.concat(), items);
        }
    }
}
