//! Stored codes: the lab's vocabularies ([`crate::domain::vocab`]) go into a column as their
//! stable code and come out strictly — a code the vocabulary does not know makes the read fail
//! with the table, column and value ([`in_table`]), never turns into another value.

use crate::domain::id_number::{DocumentType, Sex};
use crate::domain::interpretation::CallOutcome;
use crate::domain::plate::PlateStatus;
use crate::domain::policy::Role;
use crate::domain::programme::{Covers, DutyState, Hold, Pooling};
use crate::domain::reception::RejectionReason;
use crate::domain::review::{AttemptStatus, Decision, FollowUp, Released, ResultValue};
use crate::domain::status::Cdc;
use crate::domain::tube::TubeStatus;
use crate::domain::vocab::{Category, Payer, Priority, SampleType, TubeKind};

/// Lets a vocabulary be bound and read as its code (TEXT on both databases).
macro_rules! stored_code {
    ($($ty:ty),+ $(,)?) => {$(
        impl sqlx::Type<sqlx::Any> for $ty {
            fn type_info() -> sqlx::any::AnyTypeInfo {
                <str as sqlx::Type<sqlx::Any>>::type_info()
            }
        }

        impl<'q> sqlx::Encode<'q, sqlx::Any> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'q, sqlx::Any>>::encode(self.as_str(), buf)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Any> for $ty {
            fn decode(
                value: <sqlx::Any as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let code = <String as sqlx::Decode<'r, sqlx::Any>>::decode(value)?;
                Ok(<$ty>::try_from(code)?)
            }
        }
    )+};
}

stored_code!(
    TubeKind,
    TubeStatus,
    SampleType,
    Category,
    Priority,
    Payer,
    DocumentType,
    Sex,
    RejectionReason,
    Role,
    Decision,
    Released,
    ResultValue,
    FollowUp,
    CallOutcome,
    PlateStatus,
    Covers,
    Pooling,
    Hold,
    DutyState,
    AttemptStatus,
    Cdc,
);

/// Names the table in an error reading one of its rows: a column that could not be decoded
/// reads `tube.kind: "pooled" is not a TubeKind code (known: single, pool, environment)`.
pub fn in_table(table: &'static str) -> impl Fn(sqlx::Error) -> sqlx::Error {
    move |e| match e {
        sqlx::Error::ColumnDecode { index, source } => sqlx::Error::ColumnDecode {
            index: format!("{table}.{}", index.trim_matches('"')),
            source,
        },
        other => other,
    }
}
