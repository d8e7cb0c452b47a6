//! Trying a rule change before activating it: simulate one event with a
//! candidate in place of a plugin, or backtest the candidate over the
//! tenant's recorded events (an asynchronous resource with progress and a
//! result). Nothing is stored or applied to tickets.
//!
//! Backtests run on the process that accepted them and are kept in its
//! memory (the last [`KEPT_PER_TENANT`] per tenant): behind a load
//! balancer, poll the replica that answered the `POST` (its `Location`).

use crate::auth::require_tenant;
use crate::error::ApiError;
use crate::handler::{ApiResult, Shared, TenantPath, blocking, ok};
use crate::request::{Body, json, require_json};
use crate::schema::{ReadErrors, Unprocessable, VersionRef, WriteErrors};
use axum::Extension;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine as _;
use docket_app::backtest::{BacktestReport, Budget, Progress};
use docket_app::simulate::{CandidateSource, Simulation};
use docket_app::ticket_input::Action;
use docket_engine::PluginSource;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use utoipa::{IntoParams, ToSchema};

/// The candidate: an installed version, a no-code document, or a module.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CandidateReq {
    /// An installed version (active or not), by number or hash prefix.
    Version(VersionRef),
    /// A no-code rule document (TOML text), compiled under the tenant's limits.
    Rules(String),
    /// A WebAssembly component or core module, base64-encoded.
    Module(String),
}

/// Decoded candidate bytes, kept while the candidate is compiled.
enum CandidateBytes {
    Version(String),
    Rules(String),
    Module(Vec<u8>),
}

impl CandidateReq {
    fn bytes(self) -> Result<CandidateBytes, ApiError> {
        Ok(match self {
            CandidateReq::Version(VersionRef::Number(n)) => CandidateBytes::Version(n.to_string()),
            CandidateReq::Version(VersionRef::Hash(h)) => CandidateBytes::Version(h),
            CandidateReq::Rules(text) => CandidateBytes::Rules(text),
            CandidateReq::Module(b64) => CandidateBytes::Module(
                base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|e| {
                        ApiError::unprocessable(
                            "invalid_body",
                            format!("candidate.module: not base64: {e}"),
                        )
                    })?,
            ),
        })
    }
}

impl CandidateBytes {
    fn source(&self) -> Result<CandidateSource<'_>, ApiError> {
        Ok(match self {
            CandidateBytes::Version(v) => CandidateSource::Installed(v),
            CandidateBytes::Rules(text) => CandidateSource::Draft(PluginSource::Rules(text)),
            CandidateBytes::Module(bytes) => {
                CandidateSource::Draft(PluginSource::wasm(bytes).map_err(|e| {
                    ApiError::unprocessable("invalid_plugin", format!("candidate.module: {e}"))
                })?)
            }
        })
    }
}

/// `POST /v1/tenants/{tenant}/simulate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateReq {
    /// The plugin the candidate stands in for (added as a last step if
    /// the pipeline does not run it).
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    pub plugin: String,
    /// The candidate.
    pub candidate: CandidateReq,
    /// The ticket: an existing one, or the one a `created` event makes.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub ticket: String,
    /// The event as the ticket endpoints and event streams write it:
    /// `{"event": "updated", "data": {...}}`.
    #[schema(value_type = Object)]
    pub event: Action,
    /// When it happens (default: now).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub at: Option<Timestamp>,
}

/// Runs one event through the tenant's pipeline as it is and with a
/// candidate in place of one plugin; answers both outcomes and the kinds
/// of decision that differ. Nothing is stored or applied. A no-code draft
/// that does not compile is a 422 `invalid_plugin` whose `diagnostics`
/// locate each error (line, column, hint).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/simulate", tag = "rule changes", security(("bearer" = [])),
    params(TenantPath), request_body = SimulateReq,
    responses((status = 200, description = "Both outcomes and the differences", body = Simulation),
        ReadErrors, WriteErrors, Unprocessable))]
pub(crate) async fn simulate(
    axum::extract::State(s): Shared,
    headers: HeaderMap,
    Path(p): Path<TenantPath>,
    b: Body,
) -> ApiResult {
    let req: Result<SimulateReq, ApiError> = json(b);
    let out = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        require_json(&headers)?;
        let req = req?;
        let bytes = req.candidate.bytes()?;
        let candidate = s.candidate(&p.tenant, &req.plugin, bytes.source()?)?;
        Ok(s.simulate(
            &p.tenant,
            &candidate,
            &req.ticket,
            &req.event,
            req.at.map(|t| t.as_millisecond()),
        )?)
    })
    .await?;
    ok(StatusCode::OK, out)
}

/// `POST /v1/tenants/{tenant}/backtests`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BacktestReq {
    /// The plugin the candidate stands in for.
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    pub plugin: String,
    /// The candidate.
    pub candidate: CandidateReq,
    /// Start of the window (default: the beginning of the recordings).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub from: Option<Timestamp>,
    /// End of the window, exclusive (default: now).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<Timestamp>,
    /// What the backtest may spend (defaults: 10,000,000 events, 900 s).
    #[serde(default)]
    pub budget: Budget,
}

/// Where a backtest is.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BacktestState {
    /// Running: see `progress`.
    Running,
    /// Done: see `report`.
    Done,
    /// Failed: see `error`.
    Failed,
}

/// A backtest resource.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BacktestView {
    /// Its id.
    pub id: String,
    /// Where it is.
    pub state: BacktestState,
    /// Recorded events in the window.
    pub total: u64,
    /// Events compared so far.
    pub done: u64,
    /// The report, once done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<BacktestReport>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Backtests kept per tenant (the oldest finished ones go first).
pub const KEPT_PER_TENANT: usize = 20;

/// One backtest: its progress and, once finished, its result.
struct Job {
    id: String,
    progress: Progress,
    result: Mutex<Option<Result<BacktestReport, String>>>,
}

impl Job {
    fn view(&self) -> BacktestView {
        let result = self.result.lock().unwrap_or_else(|p| p.into_inner());
        let (state, report, error) = match &*result {
            None => (BacktestState::Running, None, None),
            Some(Ok(r)) => (BacktestState::Done, Some(r.clone()), None),
            Some(Err(e)) => (BacktestState::Failed, None, Some(e.clone())),
        };
        BacktestView {
            id: self.id.clone(),
            state,
            total: self.progress.total.load(Ordering::Relaxed),
            done: self.progress.done.load(Ordering::Relaxed),
            report,
            error,
        }
    }
}

/// This process's backtests, by tenant, oldest first.
#[derive(Clone, Default)]
pub struct Backtests(Arc<Mutex<HashMap<String, VecDeque<Arc<Job>>>>>);

impl Backtests {
    /// The tenant's backtest `id`, or a 404 naming it.
    fn find(&self, tenant: &str, id: &str) -> Result<Arc<Job>, ApiError> {
        let jobs = self.0.lock().unwrap_or_else(|p| p.into_inner());
        jobs.get(tenant)
            .and_then(|list| list.iter().find(|j| j.id == id).cloned())
            .ok_or_else(|| ApiError::not_found(format!("backtest `{id}`")))
    }

    fn add(&self, tenant: &str, job: Arc<Job>) {
        let mut jobs = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let list = jobs.entry(tenant.to_string()).or_default();
        list.push_back(job);
        while list.len() > KEPT_PER_TENANT {
            let finished = list
                .iter()
                .position(|j| j.result.lock().unwrap_or_else(|p| p.into_inner()).is_some());
            match finished {
                Some(i) => drop(list.remove(i)),
                None => break,
            }
        }
    }
}

/// Path parameters naming a backtest.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct BacktestPath {
    /// Tenant id.
    #[param(pattern = "^[a-z0-9_-]{1,64}$")]
    tenant: String,
    /// Backtest id.
    #[param(pattern = "^bt_[0-9a-f]{16}$")]
    backtest: String,
}

/// Starts a backtest of a candidate over the tenant's recorded events in
/// a window: each event, on its recorded input, through the active
/// pipeline and through the pipeline with the candidate in place. Answers
/// 202 with the resource to poll; the candidate is compiled (and a draft
/// with errors refused, 422) before anything starts.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/backtests", tag = "rule changes", security(("bearer" = [])),
    params(TenantPath), request_body = BacktestReq,
    responses((status = 202, description = "Started: poll `Location`", body = BacktestView),
        ReadErrors, WriteErrors, Unprocessable))]
pub(crate) async fn start_backtest(
    axum::extract::State(s): Shared,
    Extension(jobs): Extension<Backtests>,
    headers: HeaderMap,
    Path(p): Path<TenantPath>,
    b: Body,
) -> ApiResult {
    let req: Result<BacktestReq, ApiError> = json(b);
    let tenant = p.tenant.clone();
    let view = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        require_json(&headers)?;
        let req = req?;
        let from = req.from.map_or(i64::MIN, |t| t.as_millisecond());
        let until = req.until.map_or_else(|| s.now(), |t| t.as_millisecond());
        if from >= until {
            return Err(ApiError::unprocessable(
                "invalid_body",
                "from: the window's start must be before its end (`until`, default now)",
            ));
        }
        let bytes = req.candidate.bytes()?;
        // Compiled (and a bad draft refused) before answering 202.
        let candidate = s.candidate(&p.tenant, &req.plugin, bytes.source()?)?;
        let job = Arc::new(Job {
            id: docket_app::service::new_key("bt")
                .chars()
                .take(19)
                .collect(),
            progress: Progress::default(),
            result: Mutex::new(None),
        });
        jobs.add(&p.tenant, job.clone());
        let view = job.view();
        let tenant = p.tenant.clone();
        std::thread::spawn(move || {
            let run = || {
                s.backtest(
                    &tenant,
                    &candidate,
                    (from, until),
                    req.budget,
                    &job.progress,
                )
                .map_err(|e| e.to_string())
            };
            // A panic is a defect, but the resource must still finish.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
                .unwrap_or_else(|_| Err("internal error: the backtest stopped".to_string()));
            *job.result.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
        });
        Ok(view)
    })
    .await?;
    let location = format!("/v1/tenants/{tenant}/backtests/{}", view.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        axum::Json(view),
    )
        .into_response())
}

/// A backtest: its state and progress, and its report once done.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/backtests/{backtest}", tag = "rule changes", security(("bearer" = [])),
    params(BacktestPath),
    responses((status = 200, description = "The backtest", body = BacktestView), ReadErrors))]
pub(crate) async fn get_backtest(
    axum::extract::State(s): Shared,
    Extension(jobs): Extension<Backtests>,
    headers: HeaderMap,
    Path(p): Path<BacktestPath>,
) -> ApiResult {
    on_backtest(s, jobs, headers, p, StatusCode::OK, |_| {}).await
}

/// Stops a running backtest; it then reports what it compared so far.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/backtests/{backtest}", tag = "rule changes", security(("bearer" = [])),
    params(BacktestPath),
    responses((status = 202, description = "Stopping (or already finished)", body = BacktestView), ReadErrors))]
pub(crate) async fn cancel_backtest(
    axum::extract::State(s): Shared,
    Extension(jobs): Extension<Backtests>,
    headers: HeaderMap,
    Path(p): Path<BacktestPath>,
) -> ApiResult {
    let cancel = |job: &Job| job.progress.cancel.store(true, Ordering::Relaxed);
    on_backtest(s, jobs, headers, p, StatusCode::ACCEPTED, cancel).await
}

/// Authenticates, finds the backtest, does `act` to it, and answers its
/// view with `status`.
async fn on_backtest(
    s: Arc<docket_app::Service>,
    jobs: Backtests,
    headers: HeaderMap,
    p: BacktestPath,
    status: StatusCode,
    act: fn(&Job),
) -> ApiResult {
    let view = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        let job = jobs.find(&p.tenant, &p.backtest)?;
        act(&job);
        Ok(job.view())
    })
    .await?;
    ok(status, view)
}
