//! Relay connections with keyset cursors.
//!
//! No listing ever counts or skips: each page is "the next `first` items after this key", read
//! with one indexed range query, so page 10,000 costs what page 1 costs. Cursors are the keys
//! themselves: a global position for `events`, a stream sequence for `history`, and for
//! projection rows the `(sort_key, key)` pair, base64-wrapped because those are not meant to be
//! read or built by clients. One row more than asked is read to learn whether a next page exists.

use async_graphql::OutputType;
use async_graphql::connection::{Connection, CursorType, Edge, OpaqueCursor};
use syncledger_store::{RowQuery, Store};

use crate::error::{ApiError, ApiResult};
use syncledger_core::projection::Row;

/// Items per page when `first` is not given.
pub const DEFAULT_PAGE: usize = 20;
/// The largest `first` accepted.
pub const MAX_PAGE: usize = 200;

/// A connection with no extra fields, as every listing of this API returns.
pub type Page<N> = Connection<String, N>;

/// The complexity of a page: each item costs what its selection costs.
pub fn complexity(first: Option<i32>, child_complexity: usize) -> usize {
    let items = first.map_or(DEFAULT_PAGE, |n| n.max(1) as usize);
    items.saturating_mul(child_complexity)
}

/// `first` checked against the bounds.
pub fn page_size(first: Option<i32>) -> ApiResult<usize> {
    match first {
        None => Ok(DEFAULT_PAGE),
        Some(n) if n < 0 => Err(ApiError::bad_input("first must not be negative")),
        Some(n) if n as usize > MAX_PAGE => Err(ApiError::bad_input(format!(
            "first must be at most {MAX_PAGE}"
        ))),
        Some(n) => Ok(n as usize),
    }
}

/// A numeric cursor (position or sequence).
pub fn number_cursor(after: Option<&str>) -> ApiResult<Option<i64>> {
    after
        .map(|a| {
            a.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| ApiError::bad_input("invalid cursor"))
        })
        .transpose()
}

/// The `(sort_key, key)` of a row cursor.
pub fn row_cursor(after: Option<&str>) -> ApiResult<Option<(String, String)>> {
    after
        .map(|a| {
            OpaqueCursor::<(String, String)>::decode_cursor(a)
                .map(|c| c.0)
                .map_err(|_| ApiError::bad_input("invalid cursor"))
        })
        .transpose()
}

pub fn encode_row_cursor(row: &Row) -> String {
    OpaqueCursor((row.sort_key.clone(), row.key.clone())).encode_cursor()
}

/// A page of a projection's rows after the cursor, with `query`'s tenant and range.
pub async fn row_page<N: OutputType>(
    store: &Store,
    projection: &str,
    mut query: RowQuery,
    first: Option<i32>,
    after: Option<String>,
    node: impl Fn(Row) -> ApiResult<N>,
) -> ApiResult<Page<N>> {
    let size = page_size(first)?;
    query.after = row_cursor(after.as_deref())?;
    let has_previous = query.after.is_some();
    query.limit = size as i64 + 1;
    let mut rows = store.rows(projection, &query).await?;
    let has_next = rows.len() > size;
    rows.truncate(size);
    let mut page = Connection::new(has_previous, has_next);
    for row in rows {
        let cursor = encode_row_cursor(&row);
        page.edges.push(Edge::new(cursor, node(row)?));
    }
    Ok(page)
}

/// The page a caller may not see: empty, as for a tenant that does not exist.
pub fn empty<N: OutputType>() -> Page<N> {
    Connection::new(false, false)
}

/// The upper bound of every sort key starting with `prefix` (for a prefix range).
pub fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(page_size(None).unwrap(), DEFAULT_PAGE);
        assert_eq!(page_size(Some(0)).unwrap(), 0);
        assert_eq!(page_size(Some(MAX_PAGE as i32)).unwrap(), MAX_PAGE);
        assert_eq!(
            page_size(Some(MAX_PAGE as i32 + 1)).unwrap_err().code(),
            "BAD_USER_INPUT"
        );
        assert_eq!(page_size(Some(-1)).unwrap_err().code(), "BAD_USER_INPUT");
    }

    #[test]
    fn row_cursors_round_trip_and_garbage_is_bad_input() {
        let row = Row {
            key: "acme/crm/c-42".into(),
            tenant: "acme".into(),
            entity_id: None,
            sort_key: "crm/c-42".into(),
            doc: serde_json::json!({}),
            n: 0,
        };
        let cursor = encode_row_cursor(&row);
        assert_eq!(
            row_cursor(Some(&cursor)).unwrap(),
            Some(("crm/c-42".into(), "acme/crm/c-42".into()))
        );
        assert_eq!(
            row_cursor(Some("%%%")).unwrap_err().code(),
            "BAD_USER_INPUT"
        );
        assert_eq!(
            number_cursor(Some("-3")).unwrap_err().code(),
            "BAD_USER_INPUT"
        );
        assert_eq!(number_cursor(Some("17")).unwrap(), Some(17));
    }
}
