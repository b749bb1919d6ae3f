//! Where the mesh a command speaks to runs, chosen once from the flags, as docs/kubernetes.md says:
//! `--kubeconfig`/`--context` mean a cluster (even with a state directory from
//! `MESHCTL_STATE_DIR`: what is typed wins), `--state-dir` the local mesh there; with neither, the local mesh when one runs at the default state directory, else the cluster of
//! the current kubeconfig context when there is a kubeconfig, else the local mesh (whose error
//! then says how to start one).

use std::path::PathBuf;

use super::cluster::ClusterArgs;
use super::local::StateDir;
use super::{Exit, Failure};
use crate::kube::client::Cluster;
use crate::kube::install::NAMESPACE;
use crate::mesh::Mesh;
use crate::mesh::cluster::ClusterMesh;
use crate::mesh::local::{LocalMesh, running_controller};

#[derive(Clone, Debug, clap::Args)]
pub struct Place {
    #[command(flatten)]
    state: StateDir,
    #[command(flatten)]
    cluster: ClusterArgs,
}

impl Place {
    /// The mesh these flags name, or the environment error that says there is none.
    pub async fn connect(&self) -> Result<Box<dyn Mesh>, Failure> {
        if self.on_cluster() {
            let cluster = Cluster::connect(&self.cluster.target()).await.map_err(Failure::environment)?;
            return Ok(Box::new(ClusterMesh::new(cluster, NAMESPACE.to_string())));
        }
        Ok(Box::new(LocalMesh::open(&self.state.path())?))
    }

    /// The cluster the flags name, or the current context's, for what only a cluster answers
    /// (`check --pre`, before there is a mesh); a state directory named alone is a usage error.
    pub async fn cluster(&self) -> Result<Cluster, Failure> {
        if self.state.named() && !self.cluster.named() {
            return Err(Failure {
                exit: Exit::Usage,
                error: anyhow::anyhow!(
                    "a state directory names a local mesh, and this asks a cluster: name one with --kubeconfig or \
                     --context (and unset MESHCTL_STATE_DIR)"
                ),
            });
        }
        Cluster::connect(&self.cluster.target()).await.map_err(Failure::environment)
    }

    fn on_cluster(&self) -> bool {
        if self.cluster.named() {
            return true;
        }
        if self.state.named() || running_controller(&self.state.path()).is_some() {
            return false;
        }
        let home_config = std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".kube/config"));
        std::env::var_os("KUBECONFIG").is_some_and(|k| !k.is_empty())
            || home_config.is_some_and(|path| path.exists())
            || std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
    }
}
