//! The container images: `scripts/images` builds them without a container daemon, the
//! Dockerfile describes them for `docker build`, and this checks that the two agree — the
//! archives are unpacked and their binaries run, chrooted into the unpacked root filesystem.

use super::common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::images::{self, Image};
use serde_json::Value;

#[test]
fn the_script_and_the_dockerfile_describe_the_same_images() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test chroots into the images' root filesystems: run it as root"
    );
    let dir = tempfile::tempdir().unwrap();
    let meshctl = unpack(&images::meshctl(dir.path()), &dir.path().join("meshctl"));
    let envoy = unpack(&images::envoy(dir.path()), &dir.path().join("envoy"));

    meshctl.is_as_described(&described(Target::Default));
    envoy.is_as_described(&described(Target::Named("envoy")));
    assert_eq!(
        meshctl.layers[0], envoy.layers[0],
        "the two images share their base layer, which containerd stores once"
    );

    // What the capture init container runs.
    let iptables = meshctl.run(&["iptables", "--version"]);
    assert!(iptables.status.success(), "iptables in the meshctl image: {}", text(&iptables.stderr));
    // By name, as the Pods' `command:` runs them.
    let version = meshctl.run(&["meshctl", "--version"]);
    assert_eq!(text(&version.stdout), common::meshctl(&["--version"]).stdout, "{}", text(&version.stderr));
    let version = envoy.run(&["envoy", "--version"]);
    let tested = Command::new(common::envoy::binary()).arg("--version").output().unwrap();
    assert_eq!(
        envoy_version(&version),
        envoy_version(&tested),
        "the Envoy image runs the Envoy the tests use: {}",
        text(&version.stderr)
    );
}

/// An image archive, unpacked: its config, its layers' digests (base first), the entries of
/// its top layer, and its layers extracted on top of one another.
struct Unpacked {
    config: Value,
    layers: Vec<String>,
    top_layer: Vec<String>,
    rootfs: PathBuf,
}

fn unpack(image: &Image, dir: &Path) -> Unpacked {
    let layout = dir.join("layout");
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(&layout).unwrap();
    std::fs::create_dir_all(&rootfs).unwrap();
    tar(&[Path::new("-C"), &layout, Path::new("-xf"), &image.archive]);
    let blob = |digest: &str| layout.join("blobs/sha256").join(digest.strip_prefix("sha256:").unwrap());
    let json = |path: PathBuf| -> Value { serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap() };

    let index = json(layout.join("index.json"));
    let [entry] = index["manifests"].as_array().unwrap().as_slice() else { panic!("one image in {index}") };
    assert_eq!(entry["annotations"]["io.containerd.image.name"], image.name.as_str(), "the name ctr imports it as");
    let manifest = json(blob(entry["digest"].as_str().unwrap()));
    let config = json(blob(manifest["config"]["digest"].as_str().unwrap()));
    assert_eq!(config["os"], "linux");
    let layers: Vec<String> =
        manifest["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_string()).collect();
    assert_eq!(layers.len(), 2, "a base and the binary: {manifest}");
    for layer in &layers {
        tar(&[Path::new("-C"), &rootfs, Path::new("-xf"), &blob(layer)]);
    }
    let top_layer = tar(&[Path::new("-tf"), &blob(&layers[1])]).lines().map(str::to_string).collect();
    Unpacked { config: config["config"].clone(), layers, top_layer, rootfs }
}

impl Unpacked {
    fn is_as_described(&self, described: &Description) {
        let name = Path::new(&described.binary).file_name().unwrap().to_str().unwrap();
        let os_release = std::fs::read_to_string(self.rootfs.join("etc/os-release")).unwrap();
        let release = described.debian.strip_prefix("debian:").and_then(|tag| tag.split('-').next());
        assert!(
            os_release.contains("\nID=debian\n")
                && release.is_some_and(|r| os_release.contains(&format!("\nVERSION_ID=\"{r}\"\n"))),
            "the Dockerfile builds {name}'s image FROM {}; the image is\n{os_release}",
            described.debian
        );
        let dpkg = std::fs::read_to_string(self.rootfs.join("var/lib/dpkg/status")).unwrap();
        for package in &described.packages {
            assert!(
                dpkg.contains(&format!("Package: {package}\nStatus: install ok installed\n")),
                "the Dockerfile installs {package} in {name}'s image; it is not there"
            );
        }

        assert_eq!(self.config["User"], described.user.as_str(), "{name}'s USER");
        assert_eq!(self.config["Entrypoint"], serde_json::json!(described.entrypoint), "{name}'s ENTRYPOINT");
        assert_eq!(described.entrypoint[0], described.binary, "{name}'s ENTRYPOINT runs the binary COPY puts there");

        let binary = described.binary.strip_prefix('/').unwrap();
        let files: Vec<&String> = self.top_layer.iter().filter(|e| !e.ends_with('/')).collect();
        assert_eq!(files, [binary], "the top layer of {name}'s image holds the binary alone");
        let metadata = std::fs::metadata(self.rootfs.join(binary)).unwrap();
        assert_eq!(
            (metadata.mode() & 0o7777, metadata.uid(), metadata.gid()),
            (0o755, 0, 0),
            "{name}'s mode and owner"
        );
        let dir = Path::new(&described.binary).parent().unwrap().to_str().unwrap();
        assert!(self.path().split(':').any(|d| d == dir), "{dir} is on the PATH of {name}'s image: {}", self.path());
    }

    /// The image's PATH (its config's Env), as a container's process gets it.
    fn path(&self) -> String {
        let env = self.config["Env"].as_array().unwrap();
        let path = env.iter().filter_map(|e| e.as_str()?.strip_prefix("PATH=")).next();
        path.expect("the image sets PATH").to_string()
    }

    /// Runs `args` chrooted into the image's root filesystem, with the image's PATH.
    fn run(&self, args: &[&str]) -> Output {
        Command::new("chroot").arg(&self.rootfs).args(args).env("PATH", self.path()).output().unwrap()
    }
}

/// What the Dockerfile says an image is, from its stage and the stages that is built FROM.
struct Description {
    /// The image the first of those stages is built FROM.
    debian: String,
    packages: Vec<String>,
    /// Where its COPY puts the binary.
    binary: String,
    user: String,
    entrypoint: Vec<String>,
}

enum Target<'a> {
    /// What `docker build` makes: the last stage.
    Default,
    /// What `docker build --target NAME` makes.
    Named(&'a str),
}

fn described(target: Target) -> Description {
    struct Stage {
        from: String,
        name: Option<String>,
        instructions: Vec<(String, String)>,
    }
    let dockerfile = std::fs::read_to_string(common::root().join("Dockerfile")).unwrap();
    let mut stages: Vec<Stage> = Vec::new();
    let lines = dockerfile.replace("\\\n", " ");
    for line in lines.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (keyword, args) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        if keyword == "FROM" {
            let words: Vec<&str> = args.split_whitespace().collect();
            let name = (words.get(1) == Some(&"AS")).then(|| words[2].to_string());
            stages.push(Stage { from: words[0].to_string(), name, instructions: Vec::new() });
        } else {
            stages.last_mut().unwrap().instructions.push((keyword.to_string(), args.trim().to_string()));
        }
    }
    let named = |name: &str| stages.iter().position(|s| s.name.as_deref() == Some(name));
    let mut at = match target {
        Target::Default => stages.len() - 1,
        Target::Named(name) => named(name).unwrap_or_else(|| panic!("the Dockerfile has a stage {name}")),
    };
    let mut instructions = Vec::new();
    loop {
        instructions.splice(0..0, stages[at].instructions.iter().cloned());
        match named(&stages[at].from) {
            Some(parent) => at = parent,
            None => break,
        }
    }
    let one = |keyword: &str| {
        let mut found = instructions.iter().filter(|(k, _)| k == keyword).map(|(_, args)| args.as_str());
        let args = found.next().unwrap_or_else(|| panic!("the stage has {keyword}"));
        assert!(found.next().is_none(), "the stage has one {keyword}");
        args
    };
    let packages = one("RUN")
        .split("&&")
        .filter_map(|command| command.trim().strip_prefix("apt-get install"))
        .flat_map(|args| args.split_whitespace().filter(|w| !w.starts_with('-')).map(str::to_string))
        .collect();
    Description {
        debian: stages[at].from.clone(),
        packages,
        binary: one("COPY").split_whitespace().last().unwrap().to_string(),
        user: one("USER").to_string(),
        entrypoint: serde_json::from_str(one("ENTRYPOINT")).unwrap(),
    }
}

/// Runs tar with `args`; its output.
fn tar(args: &[&Path]) -> String {
    let output = Command::new("tar").args(args).output().unwrap();
    assert!(output.status.success(), "tar {args:?}: {}", text(&output.stderr));
    text(&output.stdout)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What `envoy --version` says after the path it was run as.
fn envoy_version(output: &Output) -> String {
    let out = text(&output.stdout);
    out.split_once("version:").map(|(_, v)| v.trim().to_string()).unwrap_or(out)
}
