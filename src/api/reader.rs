//! [`Reader`]: a connection of the reader pool for a request that only reads — the one way a
//! read handler gets at the database (a handler that reads and then writes takes one for its
//! reading only, and gives it back before it writes).

use super::{AppState, Error};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection};

/// A reader connection, held until the handler returns.
pub(crate) struct Reader(PoolConnection<Any>);

impl FromRequestParts<AppState> for Reader {
    type Rejection = Error;

    async fn from_request_parts(
        _parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(state.store.reader().acquire().await?))
    }
}

impl std::ops::Deref for Reader {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.0
    }
}

impl std::ops::DerefMut for Reader {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.0
    }
}
