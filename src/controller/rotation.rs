//! Certificate rotations, carried out by the leader: each `CertificateRotation` in the store
//! is a request, taken oldest first, one at a time; its status records the stage. A stage is
//! left only once every proxy runs it, as the controller's report shows, so no handshake ever
//! meets a root its peer does not trust.
//!
//! ```text
//!   root: true    ─▶ Trusting (new root trusted beside the old, which signs)
//!                 ─▶ Signing  (the new root signs; every certificate reissued; old still trusted)
//!                 ─▶ Completed (the old root dropped, and every proxy runs without it)
//!   root: false   ─▶ Reissuing (every certificate issued before the request replaced) ─▶ Completed
//! ```
//!
//! The CA's material is the backend's ([`Keeper`]); the rotator only says what changes, and
//! tells the loop to read the CA again.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{Notify, watch};

use super::{Leading, Report};
use crate::api::Resource;
use crate::api::meshctl::{CertificateRotation, RotationStage, RotationStatus};
use crate::pki::Keeper;
use crate::store::{ObjectRef, Store};
use crate::xds::SyncState;

/// How often rotations are looked at.
const EVERY: Duration = Duration::from_millis(500);

/// What the proxies run, for the rotator to judge a stage by: every replica's proxies, and the
/// CA every replica works with (an empty one while they differ).
#[async_trait::async_trait]
pub trait Observer: Send + Sync {
    async fn report(&self) -> anyhow::Result<Report>;
}

/// A controller that runs alone: its own last report says it all.
#[async_trait::async_trait]
impl Observer for watch::Receiver<Arc<Report>> {
    async fn report(&self) -> anyhow::Result<Report> {
        Ok(Report::clone(&self.borrow()))
    }
}

/// Runs the rotator beside the loop until the process ends: `decoded` is the store as the loop
/// read it, `observer` says what the proxies run, `ca_changed` wakes the loop to read the CA
/// again.
pub fn spawn(
    store: Arc<dyn Store>,
    decoded: super::Decoded,
    keeper: Arc<dyn Keeper>,
    observer: Arc<dyn Observer>,
    ca_changed: Arc<Notify>,
    leading: Leading,
) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if !*leading.borrow() {
                continue;
            }
            let Some((_, resources)) = decoded.holding_writes_of(store.as_ref()) else { continue };
            let mut rotations: Vec<CertificateRotation> = resources
                .iter()
                .filter_map(|r| match r {
                    Resource::CertificateRotation(r) => Some(CertificateRotation::clone(r)),
                    _ => None,
                })
                .filter(|r| !r.status.as_ref().and_then(|s| s.stage).is_some_and(RotationStage::is_finished))
                .collect();
            // The oldest first: one rotation at a time.
            rotations.sort_by_key(|r| (r.metadata.creation_timestamp.clone().map(|t| t.0), r.metadata.name.clone()));
            let Some(rotation) = rotations.into_iter().next() else { continue };
            let report = match observer.report().await {
                Ok(report) => report,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "rotations: cannot tell what the proxies run");
                    continue;
                }
            };
            let status = rotation.status.clone().unwrap_or_default();
            let next = match step(&rotation, &status, &report, keeper.as_ref()).await {
                Ok(Some(next)) => next,
                Ok(None) => continue,
                Err(e) => RotationStatus { message: Some(format!("{e}; trying again")), ..status.clone() },
            };
            if next != status {
                if next.stage != status.stage {
                    ca_changed.notify_one();
                    tracing::info!(rotation = rotation.metadata.name.as_deref(), stage = ?next.stage, "certificate rotation");
                }
                let object = ObjectRef::of(&Resource::CertificateRotation(rotation.into()));
                let status = serde_json::to_value(&next).expect("a rotation's status serializes");
                if let Err(e) = store.set_status(&object, status).await {
                    tracing::warn!(error = %e, "rotations: cannot record the stage");
                }
            }
        }
    });
}

/// The status `rotation` moves to, given what the proxies run; `None` while it waits.
async fn step(
    rotation: &CertificateRotation,
    status: &RotationStatus,
    report: &Report,
    keeper: &dyn Keeper,
) -> anyhow::Result<Option<RotationStatus>> {
    let now = SystemTime::now();
    let moved = |stage: RotationStage, message: &str| RotationStatus {
        stage: Some(stage),
        message: Some(message.to_string()),
        last_transition_time: Some(crate::api::time::rfc3339(now)),
        ..status.clone()
    };
    let synced = report.proxies.iter().all(|p| p.sync == SyncState::Synced);
    // While a stage waits on proxies, its message names them, so that a rotation held up by a
    // proxy that is down says by which.
    let waiting = || -> Option<RotationStatus> {
        let behind: Vec<String> = report
            .proxies
            .iter()
            .filter(|p| p.sync != SyncState::Synced)
            .map(|p| format!("{} ({:?})", p.node_id, p.sync))
            .collect();
        let base = status.message.as_deref().unwrap_or_default().split("; waiting for ").next().unwrap_or_default();
        let message = match behind.len() {
            0 => base.to_string(),
            n if n <= 3 => format!("{base}; waiting for {}", behind.join(", ")),
            n => format!("{base}; waiting for {} and {} more", behind[..3].join(", "), n - 3),
        };
        (status.message.as_deref() != Some(&message))
            .then(|| RotationStatus { message: Some(message), ..status.clone() })
    };
    let ca = &report.ca;
    Ok(match (rotation.spec.root, status.stage) {
        (true, None) => {
            let new = keeper.trust_new_root().await?;
            let mut next =
                moved(RotationStage::Trusting, "the new root is sent to every proxy, to trust beside the old");
            (next.old_root, next.new_root) = (Some(ca.signing.clone()), Some(new));
            Some(next)
        }
        (true, Some(RotationStage::Trusting)) => {
            let new = status.new_root.as_deref().unwrap_or_default();
            if !(ca.trusted.iter().any(|r| r == new) && synced) {
                return Ok(waiting());
            }
            keeper.sign_with(new).await?;
            Some(moved(
                RotationStage::Signing,
                "every proxy trusts the new root; it signs, and every certificate is reissued",
            ))
        }
        (true, Some(RotationStage::Signing)) => {
            let new = status.new_root.as_deref().unwrap_or_default();
            let reissued = ca.signing == new && report.proxies.iter().all(|p| p.cert_root == new);
            if !(reissued && synced) {
                return Ok(waiting());
            }
            if ca.trusted.len() > 1 {
                keeper.drop_all_but(new).await?;
                return Ok(None);
            }
            Some(moved(
                RotationStage::Completed,
                "the new root signs every certificate; the old one is trusted no more",
            ))
        }
        (false, None) => {
            keeper.reissue_before(now).await?;
            let mut next = moved(RotationStage::Reissuing, "every certificate is reissued");
            next.old_root = Some(ca.signing.clone());
            next.reissue_before_unix_ms = Some(unix_ms(now));
            Some(next)
        }
        (false, Some(RotationStage::Reissuing)) => {
            let asked = status.reissue_before_unix_ms.unwrap_or(u64::MAX);
            let taken = ca.reissue_before_unix_ms.is_some_and(|ms| ms >= asked);
            if !(taken && synced) {
                return Ok(waiting());
            }
            Some(moved(RotationStage::Completed, "every proxy runs a certificate issued since the request"))
        }
        (_, Some(stage)) => Some(moved(RotationStage::Failed, &format!("stage {stage:?} does not go with spec.root"))),
    })
}

fn unix_ms(t: SystemTime) -> u64 {
    let ms = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis();
    u64::try_from(ms).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::meshctl::CertificateRotationSpec;
    use crate::controller::{CaReport, ProxyReport};

    #[tokio::test]
    async fn a_stage_held_up_by_proxies_names_them_and_moves_once_they_run_it() {
        let dir = tempfile::tempdir().unwrap();
        let ca = crate::pki::Authority::open(dir.path()).unwrap();
        let keeper = crate::pki::StateDir(dir.path().to_path_buf());
        let rotation = CertificateRotation::new("root-1", CertificateRotationSpec { root: true });
        let proxy = |node: &str, sync: SyncState| ProxyReport {
            node_id: node.into(),
            sync,
            versions: vec![],
            identity: String::new(),
            cert_issued: String::new(),
            cert_expires: String::new(),
            cert_root: String::new(),
            cert_fingerprint: String::new(),
            refused: None,
        };
        let mut report = Report {
            proxies: vec![proxy("a.default", SyncState::Synced), proxy("b.default", SyncState::Disconnected)],
            ca: CaReport {
                signing: ca.state().signing.clone(),
                trusted: ca.state().trusted.clone(),
                ..Default::default()
            },
            ..Report::default()
        };
        let started = step(&rotation, &RotationStatus::default(), &report, &keeper).await.unwrap().unwrap();
        assert_eq!(started.stage, Some(RotationStage::Trusting));
        let new = started.new_root.clone().unwrap();

        // The loop has taken the new root; b is down.
        report.ca.trusted.push(new.clone());
        let held = step(&rotation, &started, &report, &keeper).await.unwrap().unwrap();
        assert_eq!(held.stage, Some(RotationStage::Trusting));
        assert!(held.message.as_deref().unwrap().ends_with("; waiting for b.default (Disconnected)"), "{held:?}");
        assert_eq!(step(&rotation, &held, &report, &keeper).await.unwrap(), None, "nothing new to say");

        report.proxies[1].sync = SyncState::Synced;
        let signing = step(&rotation, &held, &report, &keeper).await.unwrap().unwrap();
        assert_eq!(signing.stage, Some(RotationStage::Signing));
        assert!(!signing.message.unwrap().contains("waiting"));
    }
}
