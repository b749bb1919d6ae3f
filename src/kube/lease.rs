//! Leader election on a Lease, as Kubernetes' own controllers elect theirs: the replica that
//! holds the Lease `meshctl-controller` and renews it in time leads; another takes it over
//! once it has gone unrenewed for its duration. Every replica serves xDS; only the leader
//! drives canaries, so two replicas never move one rollout at once.
//!
//! Writes are compare-and-swap on the Lease's `resourceVersion`: of two replicas that find it
//! expired, one wins and the other sees a conflict and follows.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, PostParams};
use tokio::sync::{oneshot, watch};

use crate::publish::SendChanged;

/// The Lease every replica competes for.
pub const LEASE: &str = "meshctl-controller";

#[derive(Clone, Debug)]
pub struct Settings {
    /// The namespace of the Lease: meshctl's own.
    pub namespace: String,
    /// This replica, as the Lease names its holder (its Pod's name).
    pub identity: String,
    /// How long a leader that stops renewing keeps the Lease; how long a takeover may take.
    pub duration: Duration,
}

impl Settings {
    /// How often the Lease is renewed, or looked at by a follower: often enough that a
    /// renewal or two may fail within the duration.
    fn period(&self) -> Duration {
        (self.duration / 4).max(Duration::from_millis(200))
    }
}

/// Competes for the Lease from now on, on a task of its own: the receiver says whether this
/// replica leads. A message on (or the drop of) the sender makes it stop leading at once and
/// release the Lease it holds, as client-go's `ReleaseOnCancel` does, so another replica takes
/// over within its next look instead of after the Lease's duration.
pub fn elect(client: Client, settings: Settings) -> (watch::Receiver<bool>, oneshot::Sender<()>) {
    let (leading_tx, leading) = watch::channel(false);
    let (resign, mut resigned) = oneshot::channel();
    tokio::spawn(async move {
        let api: Api<Lease> = Api::namespaced(client, &settings.namespace);
        let mut renewed: Option<tokio::time::Instant> = None;
        // The Lease as this replica last wrote it, while it holds it.
        let mut held: Option<Lease> = None;
        let mut every = tokio::time::interval(settings.period());
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = &mut resigned => {
                    leading_tx.send_replace(false);
                    match release(&api, &settings).await {
                        Ok(()) => tracing::info!(identity = settings.identity, "resigned"),
                        Err(e) => tracing::warn!(lease = LEASE, "cannot release the Lease: {e}"),
                    }
                    return;
                }
            }
            match hold(&api, &settings, held.take()).await {
                Ok(Some(lease)) => {
                    renewed = Some(tokio::time::Instant::now());
                    held = Some(lease);
                }
                Ok(None) => renewed = None,
                Err(e) => tracing::warn!(lease = LEASE, "cannot renew or read the Lease: {e}"),
            }
            // A leader that could not renew for a whole duration may have lost the Lease to a
            // replica that could: it stops leading before that one starts.
            let leads = renewed.is_some_and(|at| at.elapsed() < settings.duration);
            if leading_tx.send_changed(leads) {
                tracing::info!(identity = settings.identity, leads, "leadership changed");
            }
        }
    });
    (leading, resign)
}

/// Takes or renews the Lease when this replica may; the Lease as written if it holds it now.
/// A leader renews `held`, the Lease as it last wrote it, without reading it first (as
/// client-go's leaders do): one request per renewal. If another replica wrote it since, the
/// write conflicts and the Lease is read as a follower reads it.
async fn hold(api: &Api<Lease>, settings: &Settings, held: Option<Lease>) -> Result<Option<Lease>, kube::Error> {
    let now = Timestamp::now();
    let seconds = i32::try_from(settings.duration.as_secs().max(1)).unwrap_or(i32::MAX);
    if let Some(mut lease) = held {
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        spec.lease_duration_seconds = Some(seconds);
        spec.renew_time = Some(MicroTime(now));
        if let Some(renewed) = written(api.replace(LEASE, &PostParams::default(), &lease).await)? {
            return Ok(Some(renewed));
        }
    }
    let Some(mut lease) = api.get_opt(LEASE).await? else {
        let lease = Lease {
            metadata: ObjectMeta { name: Some(LEASE.into()), ..ObjectMeta::default() },
            spec: Some(LeaseSpec {
                holder_identity: Some(settings.identity.clone()),
                lease_duration_seconds: Some(seconds),
                acquire_time: Some(MicroTime(now)),
                renew_time: Some(MicroTime(now)),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        return written(api.create(&PostParams::default(), &lease).await);
    };
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    let mine = spec.holder_identity.as_deref() == Some(settings.identity.as_str());
    let lasts = SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(seconds)));
    let expired = spec.renew_time.as_ref().is_none_or(|t| t.0.saturating_add(lasts).is_ok_and(|end| end <= now));
    if !mine && !expired {
        return Ok(None);
    }
    if !mine {
        spec.holder_identity = Some(settings.identity.clone());
        spec.acquire_time = Some(MicroTime(now));
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
    }
    spec.lease_duration_seconds = Some(seconds);
    spec.renew_time = Some(MicroTime(now));
    written(api.replace(LEASE, &PostParams::default(), &lease).await)
}

/// Gives the Lease up if this replica holds it: no holder, and a duration that has run out.
async fn release(api: &Api<Lease>, settings: &Settings) -> Result<(), kube::Error> {
    let Some(mut lease) = api.get_opt(LEASE).await? else { return Ok(()) };
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    if spec.holder_identity.as_deref() != Some(settings.identity.as_str()) {
        return Ok(());
    }
    // Expiring a second from now, as client-go leaves a Lease it releases.
    spec.holder_identity = None;
    spec.lease_duration_seconds = Some(1);
    spec.renew_time = Some(MicroTime(Timestamp::now()));
    written(api.replace(LEASE, &PostParams::default(), &lease).await).map(|_| ())
}

/// A write that lost a race to another replica means following, not failing.
fn written(result: Result<Lease, kube::Error>) -> Result<Option<Lease>, kube::Error> {
    match result {
        Ok(lease) => Ok(Some(lease)),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(None),
        Err(e) => Err(e),
    }
}
