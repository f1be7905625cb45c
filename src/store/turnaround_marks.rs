//! The turnaround marks on `tube` (周转: when a tube was placed, called, re-queued, re-sampled,
//! released): set as the lab's work happens, read by the timeline, the at-risk list and the
//! turnaround rollup (`fold_pending` marks a tube for the rollup).

use super::Tx;

/// Placed on a plate: the first placement stays, the latest is now, a re-test is on its way.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn placed(tx: &mut Tx, tube: i64, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tube SET placed_at = COALESCE(placed_at, $1), loaded_at = $1, requeued_at = NULL WHERE id = $2",
    )
    .bind(at)
    .bind(tube)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Taken out of a well again (a mis-scan): the marks follow the attempts that remain.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn unplaced(tx: &mut Tx, tube: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tube SET placed_at = (SELECT MIN(a.created_at) FROM attempt a WHERE a.tube_id = tube.id), \
         loaded_at = (SELECT MAX(a.created_at) FROM attempt a WHERE a.tube_id = tube.id), \
         requeued_at = (SELECT a.decided_at FROM attempt a WHERE a.tube_id = tube.id \
           AND a.decision IN ('retest', 'reextract', 'rerun') \
           AND a.attempt_no = (SELECT MAX(b.attempt_no) FROM attempt b WHERE b.tube_id = tube.id)) \
         WHERE id = $1",
    )
    .bind(tube)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A run was imported and its tubes called (those not yet released).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn imported(tx: &mut Tx, import: i64, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tube SET imported_at = $1, called_at = $1 WHERE released_at IS NULL AND id IN \
         (SELECT a.tube_id FROM auto_call c JOIN attempt a ON a.id = c.attempt_id WHERE c.import_id = $2)",
    )
    .bind(at)
    .bind(import)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A reviewer sent the tube back to the queue (re-test, re-extraction, re-run).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn requeued(tx: &mut Tx, tube: i64, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tube SET requeued_at = $1 WHERE id = $2")
        .bind(at)
        .bind(tube)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// A reviewer ordered new swabs: this tube gives no result.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn resampled(tx: &mut Tx, tube: i64, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tube SET resampled_at = $1, requeued_at = NULL, fold_pending = 1 WHERE id = $2 AND resampled_at IS NULL",
    )
    .bind(at)
    .bind(tube)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A result of the tube was released (the first release counts).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn released(tx: &mut Tx, tube: i64, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tube SET released_at = $1, requeued_at = NULL, fold_pending = 1 WHERE id = $2 AND released_at IS NULL",
    )
    .bind(at)
    .bind(tube)
    .execute(tx.conn())
    .await?;
    Ok(())
}
