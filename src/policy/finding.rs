//! Findings: what validation says about a place in the input. Codes are stable; docs/policy.md
//! documents each one (a test keeps that list complete).

use std::fmt;

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $severity:ident, $summary:literal;)*) => {
        /// Every finding meshctl can report. The number never changes meaning.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $($variant),* }

        impl Code {
            pub const ALL: &[Code] = &[$(Code::$variant),*];

            pub fn id(self) -> &'static str {
                match self { $(Code::$variant => $code),* }
            }

            /// The severity this code is reported with unless options say otherwise.
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity),* }
            }

            /// One line for the documentation.
            pub fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary),* }
            }
        }
    };
}

codes! {
    YamlSyntax = "MESH0001", Error, "The file is not valid YAML.";
    NotAnObject = "MESH0002", Error, "A document is not a mapping (a Kubernetes object).";
    BadType = "MESH0003", Error, "A document has no `apiVersion` or `kind`, or names a mesh kind under an API version meshctl does not know.";
    UnknownKind = "MESH0004", Info, "A kind meshctl does not handle was skipped (an error with `--reject-unknown`).";
    OldApiVersion = "MESH0005", Warning, "An older API version (Istio's v1alpha3 and v1beta1, the Gateway API's v1beta1); it is read as v1.";
    DuplicateResource = "MESH0006", Error, "The same kind, namespace and name appear twice in the input.";
    InvalidMetadata = "MESH0007", Error, "`metadata.name` is missing, or a name, namespace or label is not valid for Kubernetes.";
    NoDocuments = "MESH0008", Warning, "The input holds no YAML document: empty, only comments, or a directory with no YAML file.";
    UnknownField = "MESH0101", Error, "A field that the kind does not have (a typo, with the nearest known name).";
    WrongType = "MESH0102", Error, "A value of the wrong type (a string where a number belongs, ...).";
    InvalidEnum = "MESH0103", Error, "A value that is not one of the allowed ones.";
    MissingField = "MESH0104", Error, "A required field is missing.";
    Unsupported = "MESH0105", Error, "Valid Istio or Gateway API, but not supported by meshctl: it would not be enforced.";
    InvalidDuration = "MESH0106", Error, "A duration that is not a number and a unit (`500ms`, `1.5s`, `1m30s`).";
    OutOfRange = "MESH0107", Error, "A number, a list's length or a string's length outside its allowed range.";
    InvalidValue = "MESH0108", Error, "A string that does not have the form its field takes (the schema's pattern).";
    WeightSum = "MESH0201", Error, "The weights of a route's destinations do not add up to 100.";
    UndefinedSubset = "MESH0202", Error, "A destination names a subset that the host's DestinationRule does not define.";
    DuplicateSubset = "MESH0203", Error, "Two subsets of a DestinationRule have the same name.";
    DuplicateHost = "MESH0204", Error, "Two VirtualServices route the same host; only one would take effect.";
    UnreachableRule = "MESH0205", Warning, "An HTTP rule can never match: an earlier rule matches all of its requests.";
    UnknownHost = "MESH0206", Error, "A host that no service in the input's registry (Workloads, Services) provides, or a port its service does not have.";
    InvalidMatch = "MESH0207", Error, "A string match without exactly one of exact/prefix/regex, a bad regex, or an uppercase header name.";
    MissingDestination = "MESH0208", Error, "An HTTP rule that sends traffic nowhere.";
    InvalidHost = "MESH0209", Error, "A host that is not a valid DNS name.";
    ConflictingSettings = "MESH0210", Error, "Settings that exclude each other are both set, or a choice has no option set.";
    InvalidRetryOn = "MESH0211", Error, "A `retryOn` condition Envoy does not know.";
    SuspiciousSetting = "MESH0212", Warning, "A setting with no effect, or one that works against another.";
    InvalidServiceEntry = "MESH0213", Error, "A ServiceEntry whose hosts, addresses, ports, endpoints and resolution do not fit together.";
    RouteOverridden = "MESH0214", Warning, "An HTTPRoute attached to a Service that a VirtualService routes: the VirtualService is used and the HTTPRoute is not.";
    UnknownGateway = "MESH0215", Warning, "A VirtualService bound to a Gateway that the mesh does not have (`analyze`, `apply`).";
    UnresolvedReference = "MESH0216", Warning, "A Gateway API object names a parent, backend, certificate or protocol meshctl cannot serve: it is stored, and its status says why (the Gateway API reports these in status, not by refusing).";
    HiddenHost = "MESH0217", Warning, "A route sends to a host that some of its callers cannot see (the host's `exportTo` leaves their namespace out): their requests fail.";
    ConflictingSidecars = "MESH0218", Error, "Two Sidecars apply to the same workloads (two without a selector in one namespace, or selectors that pick the same workloads): only one would take effect.";
    MtlsConflict = "MESH0301", Error, "Client TLS settings that a destination's PeerAuthentication refuses, so traffic would fail.";
    JwtKeys = "MESH0302", Error, "A JWT rule without usable keys (`jwksUri` or an inline `jwks`).";
    InvalidAuthorization = "MESH0303", Error, "An authorization rule that is malformed (path pattern, port, condition key, empty source).";
    AllowNothing = "MESH0304", Info, "An ALLOW policy without rules: it denies every request to the workloads it selects.";
    HttpRuleOnTcp = "MESH0305", Error, "An authorization rule with HTTP-only fields (paths, methods, hosts, request principals, request headers) whose workloads serve its ports over TCP only: such an ALLOW rule never matches and such a DENY rule denies every connection.";
    InvalidCanary = "MESH0401", Error, "A Canary whose steps, subsets or gates cannot work.";
    InvalidWorkload = "MESH0402", Error, "A Workload that cannot be run (service name, labels, environment).";
    EmptySubset = "MESH0501", Warning, "A DestinationRule subset whose labels select no running instance (`analyze`, `check`).";
    NoReadyInstance = "MESH0502", Error, "A route sends traffic to a destination with no ready instance (`analyze`, `check`).";
    StuckCanary = "MESH0503", Error, "A rollout under way whose stable or canary subset has no ready instance (`analyze`, `check`).";
    ProxyRefused = "MESH0504", Error, "A proxy refused (NACKed) its configuration and runs its last good one (`analyze`, `check`).";
    RouteNotProgrammed = "MESH0505", Error, "An HTTPRoute whose status says the mesh does not use it, or cannot reach a backend it names (`analyze`, `check`).";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// One thing validation found, at one place.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// Where in the input; all three are `None` for an object of the mesh, which has no text.
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    /// `Kind/namespace/name` of the resource it is about, when the document names one.
    pub resource: Option<String>,
    /// The field it is about (`spec.http[0].route[1]`), when a rule names one: with the code
    /// and the resource, what tells one finding from another when the text cannot.
    #[serde(skip)]
    pub path: Option<String>,
}
