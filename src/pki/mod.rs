//! The mesh's certificate authority: a root kept in the state directory, and short-lived
//! workload certificates carrying SPIFFE identities, issued in memory and delivered to the
//! proxies by SDS (leaf keys never touch the disk).
//!
//! ```text
//!   pki/state.json            which root signs, which roots are trusted, reissue requests
//!   pki/roots/ID/cert.pem     a root certificate (public)
//!   pki/roots/ID/key.pem      its private key, mode 0600
//! ```
//!
//! Every change of state is one atomic rewrite of `state.json` under `pki/lock`, so a crash
//! leaves either the old state or the new one. A root rotation goes in three steps, each taken
//! by the controller (`controller::rotation`) only once every proxy runs the one before, so no
//! handshake ever meets a root its peer does not trust:
//!
//! ```text
//!   staged     the new root is trusted beside the old; the old one still signs
//!   promoted   the new root signs (every certificate is reissued); the old is still trusted
//!   done       the old root is forgotten, its key deleted
//! ```

pub mod probe;
pub mod serving;

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use serde::{Deserialize, Serialize};

use crate::api::Identity;
use crate::store::{write_atomically, write_private};

/// How long a root lives. Workload certificates live for hours; roots are rotated by hand.
const ROOT_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Certificates are valid from a little before they are issued, so a peer whose clock is
/// slightly behind does not refuse them.
const BACKDATE: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "{path}: {message}; remove the state directory's pki/ to start a new CA (every workload gets a new certificate)"
    )]
    Corrupt { path: PathBuf, message: String },
    #[error("issuing a certificate: {0}")]
    Issue(#[from] rcgen::Error),
    #[error("a root rotation is already under way; wait for it to finish (`meshctl mtls status`)")]
    RotationUnderWay,
}

impl From<crate::store::StoreError> for PkiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Io { path, source } => PkiError::Io { path, source },
            other => PkiError::Corrupt { path: PathBuf::new(), message: other.to_string() },
        }
    }
}

/// A workload certificate and its key, PEM-encoded. Debug output leaves the key out, so it
/// cannot reach a log by accident.
#[derive(Clone, PartialEq)]
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    /// The root that signed it.
    pub root: String,
    /// The first bytes of the certificate's SHA-256, in hex: tells one certificate from the
    /// next, which may be issued within the same second.
    pub fingerprint: String,
}

impl std::fmt::Debug for Leaf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leaf").field("not_after", &self.not_after).field("root", &self.root).finish_non_exhaustive()
    }
}

impl Leaf {
    /// When it was issued: its validity starts a little earlier (see `BACKDATE`).
    pub fn issued(&self) -> SystemTime {
        self.not_before + BACKDATE
    }

    /// When half its life has passed: time to renew.
    pub fn renew_at(&self) -> SystemTime {
        let life = self.not_after.duration_since(self.issued()).unwrap_or_default();
        self.issued() + life / 2
    }

    pub fn due(&self, now: SystemTime) -> bool {
        now >= self.renew_at()
    }
}

/// What `state.json` records.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// The root that signs workload certificates.
    pub signing: String,
    /// Every root proxies trust, the signing one included.
    pub trusted: Vec<String>,
    /// A root that is trusted but does not sign yet: a rotation is under way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Certificates issued before this moment, in milliseconds since the Unix epoch, are
    /// reissued (`meshctl mtls rotate`). Finer than RFC 3339's whole seconds, so a certificate
    /// issued in the same second as the request is neither missed nor reissued twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reissue_before_unix_ms: Option<u64>,
}

/// A root certificate and its key, PEM-encoded, named by its key's fingerprint.
#[derive(Clone, PartialEq, Eq)]
pub struct Root {
    pub id: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for Root {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Root").field("id", &self.id).finish_non_exhaustive()
    }
}

impl Root {
    /// A root from its PEM; its id is its key's fingerprint.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Root, PkiError> {
        let key = KeyPair::from_pem(key_pem).map_err(|e| corrupt(Path::new("the mesh CA"), e))?;
        Ok(Root { id: fingerprint(key.public_key_raw()), cert_pem: cert_pem.to_string(), key_pem: key_pem.to_string() })
    }
}

/// A CA kept whole in one place, a cluster's Secret: the signing root, a root staged to sign
/// next (during a rotation's first stage), the certificates of every root trusted, and the
/// last reissue asked for. Its changes are pure; the keeper writes them back.
#[derive(Clone, Debug, PartialEq)]
pub struct Kept {
    pub signing: Root,
    pub next: Option<Root>,
    /// Every trusted root's certificate, PEM-concatenated, the signing one's included.
    pub bundle: String,
    pub reissue_before_unix_ms: Option<u64>,
}

impl Kept {
    /// A CA of one root, as install makes it.
    pub fn new(signing: Root) -> Kept {
        Kept { bundle: signing.cert_pem.clone(), signing, next: None, reissue_before_unix_ms: None }
    }

    /// The state it is in, as the local CA's `state.json` records one.
    pub fn state(&self) -> State {
        let trusted = certificate_ids(&self.bundle);
        State {
            signing: self.signing.id.clone(),
            trusted,
            next: self.next.as_ref().map(|r| r.id.clone()),
            reissue_before_unix_ms: self.reissue_before_unix_ms,
        }
    }

    /// With a new root trusted beside the signing one, and its id; one staged already is kept.
    pub fn trust_new_root(&self) -> Result<(Kept, String), PkiError> {
        if let Some(next) = &self.next {
            return Ok((self.clone(), next.id.clone()));
        }
        if self.state().trusted.len() > 1 {
            return Err(PkiError::RotationUnderWay);
        }
        let new = make_root()?;
        let id = new.id.clone();
        let bundle = format!("{}{}", self.bundle, new.cert_pem);
        Ok((Kept { next: Some(new), bundle, ..self.clone() }, id))
    }

    /// With the staged root `root` signing; unchanged if it is not the staged one.
    pub fn sign_with(&self, root: &str) -> Kept {
        match &self.next {
            Some(next) if next.id == root => Kept { signing: next.clone(), next: None, ..self.clone() },
            _ => self.clone(),
        }
    }

    /// With every root but the signing `root` dropped; unchanged if `root` does not sign.
    pub fn drop_all_but(&self, root: &str) -> Kept {
        if self.signing.id != root || self.next.is_some() {
            return self.clone();
        }
        Kept { bundle: self.signing.cert_pem.clone(), ..self.clone() }
    }

    /// With every certificate issued before `at` to be replaced.
    pub fn reissue_before(&self, at: SystemTime) -> Kept {
        let ms = at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis();
        Kept { reissue_before_unix_ms: Some(u64::try_from(ms).unwrap_or(u64::MAX)), ..self.clone() }
    }
}

/// The ids of the root certificates in a PEM bundle: their keys' fingerprints.
fn certificate_ids(bundle: &str) -> Vec<String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(bundle.as_bytes())
        .flatten()
        .filter_map(|der| {
            let (_, cert) = x509_parser::parse_x509_certificate(&der).ok()?;
            Some(fingerprint(&cert.public_key().subject_public_key.data))
        })
        .collect()
}

/// The CA: in a state directory (the local mesh), kept whole elsewhere and followed as it
/// changes (a cluster's Secret), or held in memory from one root.
pub struct Authority {
    dir: Option<PathBuf>,
    /// The kept CA this one follows.
    kept: Option<tokio::sync::watch::Receiver<Kept>>,
    state: State,
    signer: Issuer<'static, KeyPair>,
    bundle: String,
}

impl Authority {
    /// Opens the CA under `state_dir`, creating its first root when there is none.
    pub fn open(state_dir: &Path) -> Result<Self, PkiError> {
        let dir = state_dir.join("pki");
        let _lock = lock(&dir)?;
        let state = match read_state(&dir)? {
            Some(state) => state,
            None => {
                let root = new_root(&dir)?;
                let state = State { signing: root.clone(), trusted: vec![root], ..State::default() };
                write_state(&dir, &state)?;
                state
            }
        };
        // A rotation that stopped between forgetting a root and deleting it leaves the key.
        let roots = dir.join("roots");
        for entry in fs::read_dir(&roots).map_err(|source| PkiError::Io { path: roots.clone(), source })? {
            let path = entry.map_err(|source| PkiError::Io { path: roots.clone(), source })?.path();
            let id = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if !state.trusted.iter().any(|t| t == id) {
                fs::remove_dir_all(&path).map_err(|source| PkiError::Io { path: path.clone(), source })?;
            }
        }
        Authority::load(dir, state)
    }

    /// The CA of one root, in memory: it issues certificates and knows no rotation.
    pub fn from_root(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let invalid =
            |e: rcgen::Error| PkiError::Corrupt { path: PathBuf::from("the mesh CA"), message: e.to_string() };
        let key = KeyPair::from_pem(key_pem).map_err(invalid)?;
        let id = fingerprint(key.public_key_raw());
        let signer = Issuer::from_ca_cert_pem(cert_pem, key).map_err(invalid)?;
        let state = State { signing: id.clone(), trusted: vec![id], ..State::default() };
        Ok(Authority { dir: None, kept: None, state, signer, bundle: cert_pem.to_string() })
    }

    /// The CA `kept` holds now.
    pub fn from_kept(kept: &Kept) -> Result<Self, PkiError> {
        let key = KeyPair::from_pem(&kept.signing.key_pem).map_err(|e| corrupt(Path::new("the mesh CA"), e))?;
        let signer =
            Issuer::from_ca_cert_pem(&kept.signing.cert_pem, key).map_err(|e| corrupt(Path::new("the mesh CA"), e))?;
        Ok(Authority { dir: None, kept: None, state: kept.state(), signer, bundle: kept.bundle.clone() })
    }

    /// The CA `kept` holds, following it: `reload` takes its changes.
    pub fn following(mut kept: tokio::sync::watch::Receiver<Kept>) -> Result<Self, PkiError> {
        let now = kept.borrow_and_update().clone();
        Ok(Authority { kept: Some(kept), ..Authority::from_kept(&now)? })
    }

    /// Opens the CA under `state_dir` if there is one: for readers, which must not make one.
    pub fn open_existing(state_dir: &Path) -> Result<Self, PkiError> {
        let dir = state_dir.join("pki");
        let state = existing_state(&dir)?;
        Authority::load(dir, state)
    }

    fn load(dir: PathBuf, state: State) -> Result<Self, PkiError> {
        let root_dir = dir.join("roots").join(&state.signing);
        let key_path = root_dir.join("key.pem");
        let key_pem = read(&key_path)?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| corrupt(&key_path, e))?;
        let cert_path = root_dir.join("cert.pem");
        let signer = Issuer::from_ca_cert_pem(&read(&cert_path)?, key).map_err(|e| corrupt(&cert_path, e))?;
        let bundle = state
            .trusted
            .iter()
            .map(|id| read(&dir.join("roots").join(id).join("cert.pem")))
            .collect::<Result<Vec<_>, _>>()?
            .concat();
        Ok(Authority { dir: Some(dir), kept: None, state, signer, bundle })
    }

    /// Reads the state again if it changed on disk or where it is kept (a rotation's step).
    /// Returns whether it changed; a CA of one root never does.
    pub fn reload(&mut self) -> Result<bool, PkiError> {
        if let Some(kept) = &mut self.kept {
            if !kept.has_changed().unwrap_or(false) {
                return Ok(false);
            }
            let now = kept.borrow_and_update().clone();
            let fresh = Authority::from_kept(&now)?;
            *self = Authority { kept: self.kept.take(), ..fresh };
            return Ok(true);
        }
        let Some(dir) = self.dir.clone() else { return Ok(false) };
        let state = existing_state(&dir)?;
        if state == self.state {
            return Ok(false);
        }
        *self = Authority::load(dir, state)?;
        Ok(true)
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// The roots every proxy trusts, PEM-concatenated.
    pub fn trust_bundle(&self) -> &str {
        &self.bundle
    }

    /// Whether `leaf` must be replaced now: half its life is gone, another root signs now, or
    /// a reissue was asked for after it was issued.
    pub fn must_reissue(&self, leaf: &Leaf, now: SystemTime) -> bool {
        let asked = self.state.reissue_before_unix_ms.map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms));
        leaf.due(now) || leaf.root != self.state.signing || asked.is_some_and(|t| leaf.issued() < t)
    }

    /// A certificate for `identity`, valid for `lifetime` from now.
    pub fn issue(&self, identity: &Identity, lifetime: Duration) -> Result<Leaf, PkiError> {
        self.issue_for(vec![SanType::URI(identity.uri().try_into()?)], lifetime)
    }

    /// A server certificate for DNS names (the controller's webhook, which the API server
    /// calls by its Service's name), valid for `lifetime` from now.
    pub fn issue_server(&self, dns_names: &[String], lifetime: Duration) -> Result<Leaf, PkiError> {
        let sans = dns_names
            .iter()
            .map(|name| Ok(SanType::DnsName(name.as_str().try_into()?)))
            .collect::<Result<_, PkiError>>()?;
        self.issue_for(sans, lifetime)
    }

    fn issue_for(&self, sans: Vec<SanType>, lifetime: Duration) -> Result<Leaf, PkiError> {
        let now = SystemTime::now();
        let (not_before, not_after) = (now - BACKDATE, now + lifetime);
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.subject_alt_names = sans;
        params.not_before = not_before.into();
        params.not_after = not_after.into();
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages =
            vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.signer)?;
        Ok(Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            not_before,
            not_after,
            root: self.state.signing.clone(),
            fingerprint: fingerprint(cert.der()),
        })
    }

    /// Where a rotation stands: `None` when there is none.
    pub fn rotation(&self) -> Option<Rotation> {
        match (&self.state.next, self.state.trusted.len()) {
            (Some(_), _) => Some(Rotation::Staged),
            (None, n) if n > 1 => Some(Rotation::Promoted),
            _ => None,
        }
    }
}

/// The steps of a root rotation after it starts: the new root is trusted beside the old one
/// (`staged`), then it signs and the old one is still trusted (`promoted`), then the old one
/// goes and the rotation is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rotation {
    Staged,
    Promoted,
}

impl std::fmt::Display for Rotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Rotation::Staged => "staged",
            Rotation::Promoted => "promoted",
        })
    }
}

/// Starts a root rotation: a new root, trusted from now on but not yet signing. A root staged
/// already (by a request whose stage was not recorded) is the one returned.
pub fn stage_root_rotation(state_dir: &Path) -> Result<String, PkiError> {
    let dir = state_dir.join("pki");
    let _lock = lock(&dir)?;
    let mut state = existing_state(&dir)?;
    if let Some(next) = state.next {
        return Ok(next);
    }
    if state.trusted.len() > 1 {
        return Err(PkiError::RotationUnderWay);
    }
    let root = new_root(&dir)?;
    state.trusted.push(root.clone());
    state.next = Some(root.clone());
    write_state(&dir, &state)?;
    Ok(root)
}

/// The staged root `root` signs from now on; nothing changes if it signs already.
pub fn promote(state_dir: &Path, root: &str) -> Result<(), PkiError> {
    let dir = state_dir.join("pki");
    let _lock = lock(&dir)?;
    let mut state = existing_state(&dir)?;
    if state.next.as_deref() == Some(root) {
        state.next = None;
        state.signing = root.to_string();
        write_state(&dir, &state)?;
    }
    Ok(())
}

/// Forgets every root but `root`, which must sign, and deletes their keys; nothing changes if
/// `root` does not sign, or is the only one.
pub fn retire_all_but(state_dir: &Path, root: &str) -> Result<(), PkiError> {
    let dir = state_dir.join("pki");
    let _lock = lock(&dir)?;
    let mut state = existing_state(&dir)?;
    if state.signing != root || state.next.is_some() {
        return Ok(());
    }
    let old: Vec<String> = state.trusted.iter().filter(|r| *r != root).cloned().collect();
    state.trusted.retain(|r| r == root);
    write_state(&dir, &state)?;
    for id in old {
        let path = dir.join("roots").join(&id);
        fs::remove_dir_all(&path).map_err(|source| PkiError::Io { path, source })?;
    }
    Ok(())
}

/// Where the CA's material is kept, and how it changes. Each change names what it expects, so
/// that one made twice (the report has not caught up with the first) changes nothing more.
#[async_trait::async_trait]
pub trait Keeper: Send + Sync {
    /// Makes a new root, trusted beside the signing one but not signing; returns its id.
    async fn trust_new_root(&self) -> anyhow::Result<String>;
    /// `root`, trusted already, signs from now on (if it does not yet).
    async fn sign_with(&self, root: &str) -> anyhow::Result<()>;
    /// Every root but the signing one `root` is dropped.
    async fn drop_all_but(&self, root: &str) -> anyhow::Result<()>;
    /// Every certificate issued before `at` is replaced.
    async fn reissue_before(&self, at: SystemTime) -> anyhow::Result<()>;
}

/// The local mesh's CA, in its state directory.
pub struct StateDir(pub std::path::PathBuf);

#[async_trait::async_trait]
impl Keeper for StateDir {
    async fn trust_new_root(&self) -> anyhow::Result<String> {
        Ok(stage_root_rotation(&self.0)?)
    }

    async fn sign_with(&self, root: &str) -> anyhow::Result<()> {
        Ok(promote(&self.0, root)?)
    }

    async fn drop_all_but(&self, root: &str) -> anyhow::Result<()> {
        Ok(retire_all_but(&self.0, root)?)
    }

    async fn reissue_before(&self, at: SystemTime) -> anyhow::Result<()> {
        Ok(request_reissue(&self.0, at)?)
    }
}

/// Asks for every certificate issued before `at` to be reissued.
pub fn request_reissue(state_dir: &Path, at: SystemTime) -> Result<(), PkiError> {
    let dir = state_dir.join("pki");
    let _lock = lock(&dir)?;
    let mut state = existing_state(&dir)?;
    let ms = at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis();
    state.reissue_before_unix_ms = Some(u64::try_from(ms).unwrap_or(u64::MAX));
    write_state(&dir, &state)
}

/// Makes a root and stores it under its id; returns the id.
fn new_root(dir: &Path) -> Result<String, PkiError> {
    let root = make_root()?;
    let root_dir = dir.join("roots").join(&root.id);
    fs::create_dir_all(&root_dir).map_err(|source| PkiError::Io { path: root_dir.clone(), source })?;
    write_private(&root_dir.join("key.pem"), root.key_pem.as_bytes())?;
    write_atomically(&root_dir.join("cert.pem"), root.cert_pem.as_bytes())?;
    Ok(root.id)
}

/// Whether `chain` (PEM) holds at least one X.509 certificate, every one readable, and `key`
/// (PEM: PKCS#1, PKCS#8 or SEC1) a private key: what a TLS Secret needs to serve. Says what
/// is wrong otherwise.
pub fn check_certificate_and_key(chain: &str, key: &str) -> Result<(), String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certificates: Vec<CertificateDer<'_>> = CertificateDer::pem_slice_iter(chain.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("its tls.crt is not PEM certificates: {e}"))?;
    if certificates.is_empty() {
        return Err("its tls.crt holds no certificate".into());
    }
    for der in &certificates {
        x509_parser::parse_x509_certificate(der)
            .map_err(|e| format!("its tls.crt holds an unreadable certificate: {e}"))?;
    }
    PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| format!("its tls.key is not a PEM private key: {e}"))?;
    Ok(())
}

/// A new root, in memory.
pub fn make_root() -> Result<Root, PkiError> {
    let now = SystemTime::now();
    let key = KeyPair::generate()?;
    // Named by its key's fingerprint: stable, unique, and safe to show.
    let id = fingerprint(key.public_key_raw());
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::OrganizationName, "meshctl");
    params.distinguished_name.push(DnType::CommonName, format!("meshctl root CA {id}"));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.not_before = (now - BACKDATE).into();
    params.not_after = (now + ROOT_LIFETIME).into();
    let cert = params.self_signed(&key)?;
    Ok(Root { id, cert_pem: cert.pem(), key_pem: key.serialize_pem() })
}

/// The first six bytes of the SHA-256 of `bytes`, in hex.
fn fingerprint(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref()[..6].iter().map(|b| format!("{b:02x}")).collect()
}

fn lock(dir: &Path) -> Result<File, PkiError> {
    fs::create_dir_all(dir).map_err(|source| PkiError::Io { path: dir.to_path_buf(), source })?;
    let path = dir.join("lock");
    let io = |source| PkiError::Io { path: path.clone(), source };
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io)?;
    file.lock().map_err(io)?;
    Ok(file)
}

/// The state of a CA that must exist already.
fn existing_state(dir: &Path) -> Result<State, PkiError> {
    read_state(dir)?.ok_or_else(|| corrupt(&dir.join("state.json"), "missing"))
}

fn read_state(dir: &Path) -> Result<Option<State>, PkiError> {
    let path = dir.join("state.json");
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| corrupt(&path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PkiError::Io { path, source }),
    }
}

fn write_state(dir: &Path, state: &State) -> Result<(), PkiError> {
    Ok(write_atomically(&dir.join("state.json"), &serde_json::to_vec_pretty(state).expect("pki state serializes"))?)
}

fn read(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|source| PkiError::Io { path: path.to_path_buf(), source })
}

fn corrupt(path: &Path, message: impl std::fmt::Display) -> PkiError {
    PkiError::Corrupt { path: path.to_path_buf(), message: message.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_ca_keeps_its_key_private_and_reopens_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::open(dir.path()).unwrap();
        let root = ca.state().signing.clone();
        assert_eq!(mode(&dir.path().join("pki/roots").join(&root).join("key.pem")), 0o600);
        assert_eq!(mode(&dir.path().join("pki/roots").join(&root).join("cert.pem")), 0o644);
        let again = Authority::open(dir.path()).unwrap();
        assert_eq!((again.state(), again.trust_bundle()), (ca.state(), ca.trust_bundle()));
    }

    #[test]
    fn a_leaf_carries_the_spiffe_identity_and_is_due_at_half_life() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::open(dir.path()).unwrap();
        let leaf = ca.issue(&Identity::new("shop", "profile"), Duration::from_secs(3600)).unwrap();
        let der = rustls::pki_types::CertificateDer::from_pem_slice(leaf.cert_pem.as_bytes()).unwrap();
        assert_eq!(probe::uri_sans(&der), ["spiffe://cluster.local/ns/shop/sa/profile"]);
        assert!(!format!("{leaf:?}").contains("PRIVATE"), "Debug leaves the key out");
        assert!(!leaf.due(SystemTime::now()));
        assert!(leaf.due(SystemTime::now() + Duration::from_secs(1800)));
        assert!(!ca.must_reissue(&leaf, SystemTime::now()));
    }

    #[test]
    fn a_root_rotation_stages_promotes_and_retires() {
        let dir = tempfile::tempdir().unwrap();
        let mut ca = Authority::open(dir.path()).unwrap();
        let old = ca.state().signing.clone();
        let leaf = ca.issue(&Identity::new("default", "a"), Duration::from_secs(3600)).unwrap();
        let new = stage_root_rotation(dir.path()).unwrap();
        assert_eq!(stage_root_rotation(dir.path()).unwrap(), new, "staged already");
        assert!(ca.reload().unwrap());
        assert_eq!(
            (ca.rotation(), ca.trust_bundle().matches("BEGIN CERTIFICATE").count()),
            (Some(Rotation::Staged), 2)
        );
        assert!(!ca.must_reissue(&leaf, SystemTime::now()), "the old root still signs while the new one spreads");

        promote(dir.path(), &new).unwrap();
        assert!(ca.reload().unwrap());
        retire_all_but(dir.path(), &old).unwrap();
        promote(dir.path(), &new).unwrap();
        assert!(!ca.reload().unwrap(), "a step made twice, or out of turn, changes nothing");
        assert!(matches!(stage_root_rotation(dir.path()), Err(PkiError::RotationUnderWay)));
        assert_eq!((ca.rotation(), ca.state().signing.as_str()), (Some(Rotation::Promoted), new.as_str()));
        assert!(ca.must_reissue(&leaf, SystemTime::now()));
        assert_eq!(ca.issue(&Identity::new("default", "a"), Duration::from_secs(60)).unwrap().root, new);

        retire_all_but(dir.path(), &new).unwrap();
        assert!(ca.reload().unwrap());
        assert_eq!((ca.rotation(), ca.trust_bundle().matches("BEGIN CERTIFICATE").count()), (None, 1));
        assert!(!dir.path().join("pki/roots").join(old).exists(), "the old root's key is gone");
    }

    #[test]
    fn a_kept_ca_rotates_in_steps_that_each_change_nothing_when_made_twice() {
        let old = make_root().unwrap();
        let kept = Kept::new(old.clone());
        assert_eq!(kept.state().trusted, std::slice::from_ref(&old.id));
        let (staged, new) = kept.trust_new_root().unwrap();
        assert_eq!(staged.trust_new_root().unwrap(), (staged.clone(), new.clone()), "staged already");
        assert_eq!(
            (staged.state().signing, staged.state().trusted),
            (old.id.clone(), vec![old.id.clone(), new.clone()])
        );
        assert_eq!(staged.drop_all_but(&old.id), staged, "nothing is dropped while a root is staged");
        let signing = staged.sign_with(&new);
        assert_eq!(signing.sign_with(&new), signing);
        assert_eq!(signing.state().signing, new);
        assert!(matches!(signing.trust_new_root(), Err(PkiError::RotationUnderWay)));
        let leaf =
            Authority::from_kept(&signing).unwrap().issue(&Identity::new("default", "a"), Duration::from_secs(60));
        assert_eq!(leaf.unwrap().root, new);
        let done = signing.drop_all_but(&new);
        assert_eq!((done.state().trusted, done.drop_all_but(&new)), (vec![new.clone()], done.clone()));
        assert_eq!(Authority::from_kept(&done).unwrap().trust_bundle().matches("BEGIN CERTIFICATE").count(), 1);
    }

    #[test]
    fn a_root_left_behind_by_an_interrupted_rotation_is_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::open(dir.path()).unwrap();
        let stray = dir.path().join("pki/roots/0123456789ab");
        fs::create_dir_all(&stray).unwrap();
        fs::write(stray.join("key.pem"), "not a key").unwrap();
        let again = Authority::open(dir.path()).unwrap();
        assert!(!stray.exists());
        assert_eq!(again.state(), ca.state());
        assert!(Authority::open_existing(tempfile::tempdir().unwrap().path()).is_err(), "a reader makes no CA");
    }

    #[test]
    fn a_reissue_request_covers_certificates_issued_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut ca = Authority::open(dir.path()).unwrap();
        let leaf = ca.issue(&Identity::new("default", "a"), Duration::from_secs(3600)).unwrap();
        request_reissue(dir.path(), SystemTime::now() + Duration::from_secs(1)).unwrap();
        assert!(ca.reload().unwrap());
        assert!(ca.must_reissue(&leaf, SystemTime::now()));
    }
}
