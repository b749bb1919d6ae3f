//! Container images of the meshctl under test and of the tests' Envoy, as OCI image archives
//! that `scripts/images` builds from the Dockerfile's description without a container daemon;
//! a node's containerd imports them (`ctr images import`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The name the meshctl image is built under.
pub const MESHCTL: &str = "meshctl.test/meshctl:dev";
/// The name the Envoy image is built under.
pub const ENVOY: &str = "meshctl.test/envoy:dev";

/// An image archive built by scripts/images, and its name.
pub struct Image {
    pub name: String,
    pub archive: PathBuf,
}

/// Builds the meshctl image from the binary under test into `dir`.
pub fn meshctl(dir: &Path) -> Image {
    build("meshctl", Path::new(env!("CARGO_BIN_EXE_meshctl")), MESHCTL, dir)
}

/// Builds the Envoy image from the tests' Envoy (`envoy::binary`) into `dir`.
pub fn envoy(dir: &Path) -> Image {
    build("envoy", &super::envoy::binary(), ENVOY, dir)
}

fn build(kind: &str, binary: &Path, name: &str, dir: &Path) -> Image {
    let archive = dir.join(format!("{kind}.oci.tar"));
    let output = Command::new("bash")
        .arg(super::root().join("scripts/images"))
        .arg(kind)
        .arg(binary)
        .arg(name)
        .arg(&archive)
        .output()
        .unwrap_or_else(|e| panic!("scripts/images does not start: {e}"));
    assert!(
        output.status.success(),
        "`scripts/images {kind} {} {name} {}` failed ({}):\n{}",
        binary.display(),
        archive.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Image { name: name.to_string(), archive }
}
