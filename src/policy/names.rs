//! Names: how Istio resolves hosts, what Kubernetes accepts as names and labels, and the
//! nearest known name for a typo.

/// The cluster's DNS suffix; Istio's default, and meshctl's in local mode too.
pub const DOMAIN_SUFFIX: &str = "cluster.local";

/// Resolves a host as Istio does: a short name (no dot) is a service in the rule's namespace;
/// anything with a dot, `*` and IP addresses are taken as written.
pub fn resolve_host(host: &str, namespace: &str) -> String {
    if host == "*" || host.contains('.') || host.contains(':') {
        host.to_string()
    } else {
        format!("{host}.{namespace}.svc.{DOMAIN_SUFFIX}")
    }
}

/// The fully qualified host of a Kubernetes-style service.
pub fn service_host(service: &str, namespace: &str) -> String {
    format!("{service}.{namespace}.svc.{DOMAIN_SUFFIX}")
}

/// The namespace of a fully qualified service host (`name.ns.svc.cluster.local`).
pub fn host_namespace(fqdn: &str) -> Option<&str> {
    let rest = fqdn.strip_suffix(DOMAIN_SUFFIX)?.strip_suffix(".svc.")?;
    rest.split_once('.').map(|(_, ns)| ns).filter(|ns| !ns.contains('.'))
}

/// A DNS-1123 label: lowercase letters, digits and '-', starting and ending alphanumeric, at
/// most 63 characters. Kubernetes requires it of namespaces and service names.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 characters (object names).
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// A host as VirtualService and DestinationRule accept it: a DNS name, optionally with a
/// leading `*.` wildcard, or `*` alone.
pub fn is_host(s: &str) -> bool {
    let name = s.strip_prefix("*.").unwrap_or(s);
    s == "*" || is_dns_subdomain(name)
}

/// A label value: empty, or at most 63 alphanumerics with '-', '_', '.' inside.
pub fn is_label_value(s: &str) -> bool {
    s.is_empty()
        || (s.len() <= 63
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

/// A label key: an optional DNS-subdomain prefix and '/', then a non-empty label value.
pub fn is_label_key(s: &str) -> bool {
    let (prefix, name) = s.rsplit_once('/').map_or((None, s), |(p, n)| (Some(p), n));
    !name.is_empty() && is_label_value(name) && prefix.is_none_or(is_dns_subdomain)
}

/// The known name closest to `word`, if it is close enough to be a likely typo.
pub fn nearest<'a>(word: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    known
        .map(|k| (edit_distance(&lower, &k.to_ascii_lowercase()), k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb)).min(row[j] + 1).min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_hosts_like_istio() {
        assert_eq!(resolve_host("profile", "shop"), "profile.shop.svc.cluster.local");
        assert_eq!(resolve_host("profile.shop.svc.cluster.local", "other"), "profile.shop.svc.cluster.local");
        assert_eq!(resolve_host("profile.shop", "other"), "profile.shop");
        assert_eq!(resolve_host("*", "shop"), "*");
        assert_eq!(host_namespace("profile.shop.svc.cluster.local"), Some("shop"));
        assert_eq!(host_namespace("example.com"), None);
        assert!(crate::api::host_matches("*.shop.svc.cluster.local", "profile.shop.svc.cluster.local"));
        assert!(!crate::api::host_matches("*.shop.svc.cluster.local", "profile.other.svc.cluster.local"));
    }

    #[test]
    fn kubernetes_names() {
        assert!(is_dns_label("profile-v1"));
        assert!(!is_dns_label("Profile"));
        assert!(!is_dns_label("-a"));
        assert!(is_dns_subdomain("a.b-c.d"));
        assert!(is_host("*.example.com"));
        assert!(!is_host("bad_host"));
        assert!(is_label_key("app.kubernetes.io/name"));
        assert!(is_label_value("v1.2_3"));
        assert!(!is_label_value("v1 "));
    }

    #[test]
    fn nearest_name_for_typos() {
        let known = ["hosts", "http", "gateways", "exportTo"];
        assert_eq!(nearest("host", known.into_iter()), Some("hosts"));
        assert_eq!(nearest("gatways", known.into_iter()), Some("gateways"));
        assert_eq!(nearest("exportto", known.into_iter()), Some("exportTo"));
        assert_eq!(nearest("completelydifferent", known.into_iter()), None);
    }
}
