//! 审核 review: the plate's picture coloured by automatic call is the review screen. Its tubes
//! fall in three lanes — clean negatives of a valid run (released together, on a list the
//! server rebuilds and confirms), those that need a decision (one by one, the rules' suggestion
//! pre-filled, a reason when departing from it), and a failed run (sent back in one action).
//! The rules are the review service's; this screen asks it and shows the answer.

use super::bench::cts;
use super::page::{apply, beep, error_page, lab_or_choice, render, Chrome, Message, Signed};
use super::plate_map::{plate_map, PlateMap};
use crate::domain::policy::Action;
use crate::domain::review::{Decision, Released};
use crate::error::Error;
use crate::service::plates;
use crate::service::review::{self, Decide, QueueFilter, RedoRun};
use crate::state::AppState;
use crate::view::review::ReviewCase;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/review", get(page))
        .route("/review/release", post(release))
        .route("/review/decide", post(decide))
        .route("/review/redo", post(redo))
}

#[derive(Debug, Default, Deserialize)]
pub struct ReviewQuery {
    #[serde(default)]
    lab: Option<String>,
    #[serde(default)]
    plate: Option<String>,
}

/// A plate with tubes awaiting review, in the lab's list.
pub struct PlateWaiting {
    run_no: String,
    count: usize,
    calls: Vec<(String, String, usize)>,
    due: String,
    overdue: bool,
    /// The run failed its controls: nothing on it can be released.
    run_invalid: bool,
}

/// A tube awaiting a decision, in words, with the suggestion as the form's defaults.
pub struct CaseCard {
    attempt: i64,
    well: String,
    barcode: String,
    what: String,
    call_code: String,
    call: String,
    cts: String,
    due: String,
    overdue: bool,
    why: String,
    suggested_decision: String,
    suggested_value: String,
    technicians: String,
}

/// The plate's review: its picture and lanes.
pub struct Lanes {
    plate: String,
    map: PlateMap,
    /// Clean negatives: (well, barcode).
    clean: Vec<(String, String)>,
    /// What the reviewer saw, for the server to confirm (the attempts, comma-separated).
    clean_list: String,
    decide: Vec<CaseCard>,
    /// Tubes of a run whose controls failed.
    invalid_run: Vec<(String, String)>,
    run_failures: String,
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    chrome: Chrome,
    lab: String,
    may_decide: bool,
    plates: Vec<PlateWaiting>,
    lanes: Option<Lanes>,
    decisions: Vec<(String, String)>,
    values: Vec<(String, String)>,
    message: Option<Message>,
    idle: String,
    oob: bool,
}

#[derive(Template)]
#[template(path = "review_lanes_fragment.html")]
struct LanesFragment {
    chrome: Chrome,
    may_decide: bool,
    lanes: Option<Lanes>,
    decisions: Vec<(String, String)>,
    values: Vec<(String, String)>,
    message: Option<Message>,
    idle: String,
    oob: bool,
}

fn decisions(chrome: &Chrome) -> Vec<(String, String)> {
    Decision::ALL
        .iter()
        .map(|d| {
            (
                d.as_str().to_string(),
                chrome.tr.code("decision", d.as_str()),
            )
        })
        .collect()
}

fn values(chrome: &Chrome) -> Vec<(String, String)> {
    Released::ALL
        .iter()
        .map(|v| {
            (
                v.as_str().to_string(),
                chrome.tr.code("released", v.as_str()),
            )
        })
        .collect()
}

/// The attempts of a list, as the form carries them back (what the reviewer saw).
fn attempt_list(cases: &[&ReviewCase]) -> String {
    let ids: BTreeSet<i64> = cases.iter().map(|c| c.attempt).collect();
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

fn clean_cases(cases: &[ReviewCase]) -> Vec<&ReviewCase> {
    cases
        .iter()
        .filter(|c| c.suggestion.is_clean_negative())
        .collect()
}

fn case_card(chrome: &Chrome, c: &ReviewCase, tz: chrono::FixedOffset) -> CaseCard {
    let tr = &chrome.tr;
    let v = c.view(tz);
    let (code, _) = c.call.to_stored();
    CaseCard {
        attempt: c.attempt,
        well: c.well.clone(),
        barcode: c.barcode.clone(),
        what: format!(
            "{} · {} · {}",
            tr.code("kind", c.kind.as_str()),
            tr.f("reception.people", &[("count", &c.member_count)]),
            tr.f("review.attempt_no", &[("n", &c.attempt_no)])
        ),
        call_code: code.as_str().to_string(),
        call: tr.code("call", code.as_str()),
        cts: cts(&c.cts),
        due: tr.time(&v.deadline_at),
        overdue: c.overdue,
        why: c.suggestion.why.clone(),
        suggested_decision: c.suggestion.decision.as_str().to_string(),
        suggested_value: c
            .suggestion
            .value
            .map(|v| v.as_str().to_string())
            .unwrap_or_default(),
        technicians: c.technicians.join(", "),
    }
}

/// A plate's picture and lanes, from its view and its queue.
async fn lanes(s: &AppState, page: &Signed, plate: &str) -> Result<Lanes, Error> {
    let mut conn = s.store.reader().acquire().await?;
    let p = plates::find(&mut conn, &page.actor, plate)
        .await?
        .view(s.tz);
    let filter = QueueFilter {
        lab: None,
        plate: Some(p.run_no.clone()),
    };
    let cases = review::queue(&mut conn, &page.actor, &filter).await?;
    let clean = clean_cases(&cases);
    let invalid: Vec<&ReviewCase> = cases.iter().filter(|c| !c.run_valid).collect();
    let run_failures = p
        .wells
        .iter()
        .filter_map(|w| w.call.as_ref())
        .find(|c| !c.run_valid)
        .map(|_| page.chrome.t("review.run_failed"))
        .unwrap_or_default();
    Ok(Lanes {
        plate: p.run_no.clone(),
        map: plate_map(&page.chrome, &p),
        clean_list: attempt_list(&clean),
        clean: clean
            .iter()
            .map(|c| (c.well.clone(), c.barcode.clone()))
            .collect(),
        decide: cases
            .iter()
            .filter(|c| c.run_valid && !c.suggestion.is_clean_negative())
            .map(|c| case_card(&page.chrome, c, s.tz))
            .collect(),
        invalid_run: invalid
            .iter()
            .map(|c| (c.well.clone(), c.barcode.clone()))
            .collect(),
        run_failures,
    })
}

/// The lab's plates with tubes awaiting review, most urgent first.
fn waiting_plates(
    chrome: &Chrome,
    cases: &[ReviewCase],
    tz: chrono::FixedOffset,
) -> Vec<PlateWaiting> {
    let mut by_plate: BTreeMap<&str, Vec<&ReviewCase>> = BTreeMap::new();
    for c in cases {
        by_plate.entry(c.plate.as_str()).or_default().push(c);
    }
    let mut out: Vec<(i64, PlateWaiting)> = by_plate
        .into_iter()
        .map(|(plate, cs)| {
            let mut calls: BTreeMap<String, usize> = BTreeMap::new();
            for c in &cs {
                *calls
                    .entry(c.call.to_stored().0.as_str().to_string())
                    .or_default() += 1;
            }
            let first = cs
                .iter()
                .min_by_key(|c| c.deadline_at)
                .expect("a plate has a case");
            (
                first.deadline_at,
                PlateWaiting {
                    run_no: plate.to_string(),
                    count: cs.len(),
                    calls: calls
                        .into_iter()
                        .map(|(code, n)| (code.clone(), chrome.tr.code("call", &code), n))
                        .collect(),
                    due: chrome.tr.time(&first.view(tz).deadline_at),
                    overdue: cs.iter().any(|c| c.overdue),
                    run_invalid: cs.iter().any(|c| !c.run_valid),
                },
            )
        })
        .collect();
    out.sort_by_key(|(due, _)| *due);
    out.into_iter().map(|(_, p)| p).collect()
}

/// The review screen: the lab's plates awaiting review, or one plate's lanes.
async fn page(State(s): State<AppState>, page: Signed, Query(q): Query<ReviewQuery>) -> Response {
    if let Some(r) = page.refusal(Action::ViewReview) {
        return r;
    }
    let lab = match lab_or_choice(&s, &page, q.lab.as_deref()).await {
        Ok(lab) => lab,
        Err(r) => return r,
    };
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        let filter = QueueFilter {
            lab: Some(lab.clone()),
            plate: None,
        };
        let cases = review::queue(&mut conn, &page.actor, &filter).await?;
        drop(conn);
        let lanes = match q.plate.as_deref().filter(|p| !p.trim().is_empty()) {
            Some(p) => Some(lanes(&s, &page, p).await?),
            None => None,
        };
        Ok::<_, Error>((cases, lanes))
    };
    let (cases, lanes) = match loaded.await {
        Ok(x) => x,
        Err(e) => return error_page(page.chrome, e),
    };
    let idle = page.chrome.t(if lanes.is_some() {
        "review.idle_plate"
    } else {
        "review.idle"
    });
    render(
        StatusCode::OK,
        &ReviewPage {
            plates: waiting_plates(&page.chrome, &cases, s.tz),
            may_decide: page.actor.require(Action::Review).is_ok(),
            decisions: decisions(&page.chrome),
            values: values(&page.chrome),
            chrome: page.chrome,
            lab,
            lanes,
            message: None,
            idle,
            oob: false,
        },
    )
}

/// The lanes re-read after a change (or a refusal), with what happened.
async fn answer(
    s: &AppState,
    page: Signed,
    plate: &str,
    outcome: Result<Message, Error>,
) -> Response {
    if let Err(e) = &outcome {
        if e.status == StatusCode::UNAUTHORIZED {
            return super::page::sign_in_first("/review", true);
        }
    }
    let refused = outcome.is_err();
    let message = match outcome {
        Ok(m) => m,
        Err(e) => Message::refused(&page.chrome, &e),
    };
    let lanes = lanes(s, &page, plate).await.ok();
    let r = render(
        StatusCode::OK,
        &LanesFragment {
            may_decide: true,
            decisions: decisions(&page.chrome),
            values: values(&page.chrome),
            chrome: page.chrome,
            lanes,
            message: Some(message),
            idle: String::new(),
            oob: true,
        },
    );
    if refused {
        beep(r)
    } else {
        r
    }
}

#[derive(Debug, Deserialize)]
pub struct ReleaseForm {
    #[serde(default)]
    plate: String,
    /// The attempts of the clean negatives the reviewer was shown, comma-separated.
    #[serde(default)]
    list: String,
}

/// Releases the plate's clean negatives — if they are still the list the reviewer saw; a list
/// that changed meanwhile is shown again to be confirmed.
async fn release(State(s): State<AppState>, page: Signed, Form(f): Form<ReleaseForm>) -> Response {
    if let Some(r) = page.refusal(Action::Review) {
        return r;
    }
    let plate = f.plate.trim().to_string();
    // Whatever does not read as an attempt makes the list differ: it is shown again.
    let seen: BTreeSet<i64> = f
        .list
        .split(',')
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    let p = plate.clone();
    let released = apply(&s, &page.actor, move |tx| {
        let (p, seen) = (p.clone(), seen.clone());
        Box::pin(async move { review::release_seen_negatives(tx, &p, &seen).await })
    })
    .await;
    let outcome = released.map(|r| {
        Message::ok(page.chrome.tr.f(
            "review.released",
            &[("count", &r.released), ("left", &r.left_for_review.len())],
        ))
    });
    answer(&s, page, &plate, outcome).await
}

#[derive(Debug, Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    plate: String,
    #[serde(default)]
    attempt: i64,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    reason: String,
}

/// One decision, as the reviewer made it.
async fn decide(State(s): State<AppState>, page: Signed, Form(f): Form<DecideForm>) -> Response {
    if let Some(r) = page.refusal(Action::Review) {
        return r;
    }
    let plate = f.plate.trim().to_string();
    let Some(decision) = Decision::parse(f.decision.trim()) else {
        let e = Error::invalid("decision", "choose a decision");
        return answer(&s, page, &plate, Err(e)).await;
    };
    let req = Decide {
        decision,
        value: if decision == Decision::Release {
            Released::parse(f.value.trim())
        } else {
            None
        },
        reason: Some(f.reason.trim().to_string()).filter(|r| !r.is_empty()),
    };
    let (attempt, tz) = (f.attempt, s.tz);
    let decided = apply(&s, &page.actor, move |tx| {
        let req = req.clone();
        Box::pin(async move { Ok(review::decide(tx, attempt, req).await?.view(tz)) })
    })
    .await;
    let outcome = decided.map(|d| {
        let tr = &page.chrome.tr;
        let what = match d.value {
            Some(v) => format!(
                "{} · {}",
                tr.code("decision", d.decision.as_str()),
                tr.code("released", v.as_str())
            ),
            None => tr.code("decision", d.decision.as_str()),
        };
        Message::ok(tr.f(
            "review.decided",
            &[("barcode", &d.barcode), ("what", &what)],
        ))
    });
    answer(&s, page, &plate, outcome).await
}

#[derive(Debug, Deserialize)]
pub struct RedoForm {
    #[serde(default)]
    plate: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

/// Every tube of a failed run sent back at once.
async fn redo(State(s): State<AppState>, page: Signed, Form(f): Form<RedoForm>) -> Response {
    if let Some(r) = page.refusal(Action::Review) {
        return r;
    }
    let plate = f.plate.trim().to_string();
    let req = RedoRun {
        decision: Decision::parse(f.decision.trim()).unwrap_or(Decision::Rerun),
        reason: Some(f.reason.trim().to_string()).filter(|r| !r.is_empty()),
    };
    let p = plate.clone();
    let redone = apply(&s, &page.actor, move |tx| {
        let (p, req) = (p.clone(), req.clone());
        Box::pin(async move { review::redo_invalid_run(tx, &p, req).await })
    })
    .await;
    let outcome = redone.map(|r| {
        Message::ok(page.chrome.tr.f(
            "review.redone",
            &[
                ("count", &r.decided.len()),
                (
                    "what",
                    &page.chrome.tr.code("decision", r.decision.as_str()),
                ),
            ],
        ))
    });
    answer(&s, page, &plate, outcome).await
}
