//! 分页 pages of a list: every list endpoint takes `limit` (1–1000, default 1000) and `offset`
//! (default 0) and answers one page, with `X-Total-Count` (items in all pages) and
//! `X-Next-Offset` (the `offset` of the next page; absent on the last) — a list is never cut
//! without saying so.

use crate::error::Error;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// The most items on one page.
pub const MAX_LIMIT: i64 = 1000;

/// Which page of a list (query parameters).
#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Items per page, 1–1000 (default 1000). The answer's `X-Total-Count` header says how
    /// many there are in all, `X-Next-Offset` where the next page starts.
    pub limit: Option<i64>,
    /// Items to skip (default 0).
    pub offset: Option<i64>,
}

impl Paging {
    /// The page's bounds, checked: (limit, offset).
    pub fn bounds(&self) -> Result<(usize, usize), Error> {
        let (limit, offset) = crate::service::page_bounds(self.limit, self.offset, MAX_LIMIT)?;
        Ok((limit as usize, offset as usize))
    }
}

/// One page of `items` as the JSON answer, with the paging headers.
pub fn page<T: Serialize>(items: Vec<T>, paging: &Paging) -> Result<Response, Error> {
    let (limit, offset) = paging.bounds()?;
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(offset).take(limit).collect();
    let next = offset + page.len();
    let mut resp = axum::Json(page).into_response();
    let headers = resp.headers_mut();
    headers.insert("x-total-count", total.into());
    if next < total {
        headers.insert("x-next-offset", next.into());
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(p: Paging) -> (Vec<u32>, String, Option<String>) {
        let r = page((0..25).collect::<Vec<u32>>(), &p).unwrap();
        let h = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_string());
        let (total, next) = (h("x-total-count").unwrap(), h("x-next-offset"));
        let body = futures_body(r);
        (body, total, next)
    }

    fn futures_body(r: Response) -> Vec<u32> {
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(axum::body::to_bytes(r.into_body(), usize::MAX))
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn pages_say_how_many_and_where_next() {
        let (items, total, next) = numbers(Paging {
            limit: Some(10),
            offset: Some(20),
        });
        assert_eq!(
            (items, total.as_str(), next),
            ((20..25).collect(), "25", None)
        );
        let (items, _, next) = numbers(Paging {
            limit: Some(10),
            offset: None,
        });
        assert_eq!((items.len(), next.as_deref()), (10, Some("10")));
        let (items, _, _) = numbers(Paging::default());
        assert_eq!(items.len(), 25);
        for bad in [Some(0), Some(1001), Some(-3)] {
            let p = Paging {
                limit: bad,
                offset: None,
            };
            assert_eq!(p.bounds().unwrap_err().code, "invalid.limit");
        }
        let p = Paging {
            limit: None,
            offset: Some(-1),
        };
        assert_eq!(p.bounds().unwrap_err().code, "invalid.offset");
    }
}
